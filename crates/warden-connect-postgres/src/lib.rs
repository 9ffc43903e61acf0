//! The PostgreSQL connector: a login role per grant, member of the role's group roles.
