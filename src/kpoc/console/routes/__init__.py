"""Console routes, one module per noun; each serves its pages and its ``/api`` endpoints."""
