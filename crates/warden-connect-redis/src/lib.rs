//! The Redis connector: an ACL user per grant with the role's rules.
