"""The studio's HTTP routes, one module per resource."""
