//! The RabbitMQ connector: a user per grant with the role's vhost permissions, through the management API.
