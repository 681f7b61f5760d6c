"""MongoDB access: the client, repositories and indexes."""
