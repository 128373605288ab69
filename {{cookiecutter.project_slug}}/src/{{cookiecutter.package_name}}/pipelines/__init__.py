"""Pipeline steps as plain functions: train, evaluate, predict. The CLI is a thin layer on top."""
