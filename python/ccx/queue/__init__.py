"""RabbitMQ: connection, topology, publisher with confirms and batch consumer."""
