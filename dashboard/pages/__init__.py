"""Dashboard pages; Dash imports each module here through ``use_pages``."""
