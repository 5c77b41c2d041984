"""The gateway's schema migrations (Alembic): `env.py` and one script per version.

`bakong.gateway.db.migrate` runs them (`upgrade head`) at start-up, on the connection it
passes in `config.attributes["connection"]`. A script never imports `db.metadata`: it spells
out its own tables, so that it stays what it was when later versions change the schema.
"""
