"""The console's tables, one module each; :data:`cavra_gateway.console.tables.registry.TABLES` lists them."""
