"""Data contract, loaders, the synthetic default region and pure feature functions."""
