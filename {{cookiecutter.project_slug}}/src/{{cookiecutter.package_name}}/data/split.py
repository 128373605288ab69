"""A seeded train/holdout split: the same params always give the same rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def split(
    frame: pd.DataFrame, target: str, holdout_fraction: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, holdout); stratified on the target for classification."""
    from sklearn.model_selection import train_test_split

    labels = frame[target] if stratify else None
    train, holdout = train_test_split(
        frame, test_size=holdout_fraction, random_state=seed, stratify=labels
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)
