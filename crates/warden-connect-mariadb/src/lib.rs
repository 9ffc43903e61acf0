//! The MariaDB connector: a user per grant with the role's privileges.
