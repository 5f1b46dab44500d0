"""Authorization server: FAPI 1.0 Advanced and FAPI 2.0 on authlib."""
