"""The linear estimators, fitted from sufficient statistics (numpy or dask)."""
