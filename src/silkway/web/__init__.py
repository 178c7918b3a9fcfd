"""The web application shell: the FastAPI app, problem details, the landing page."""
