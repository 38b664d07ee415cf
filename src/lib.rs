//! triaged
