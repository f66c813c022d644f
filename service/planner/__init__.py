"""The planner page: a browser client of the service's own API (``GET /planner``)."""

from service.planner.router import router

__all__ = ["router"]
