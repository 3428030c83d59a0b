"""nmt-serve: an HTTP translation service with dynamic batching, and a page that shows the model at work."""
