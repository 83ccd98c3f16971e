"""The dask backend (`scale.backend = "dask"`): panels larger than one machine's memory,
trained with xgboost's Dask interface on a LocalCluster or a running scheduler."""
