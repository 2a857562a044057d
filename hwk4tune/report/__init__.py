"""One self-contained HTML page for a sweep or a comparison."""
