"""The API's routers, one per area; `mamori.api.app.create_app` includes them."""
