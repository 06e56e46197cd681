"""The backend-free core: standard library only."""
