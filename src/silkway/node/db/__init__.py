"""The node database: engine, migrations, the shared MetaData and the unit of work on SQL."""
