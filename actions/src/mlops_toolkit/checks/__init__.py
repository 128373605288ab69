"""The set-up checks of `doctor`: this machine's environment and what GitHub holds."""
