"""Claid's (Let's Enhance's) API: `/v1/` and `/v1-beta1/`, `Authorization: Bearer <key>`."""
