//! The read model of the public page (owned by the status page web helper).
