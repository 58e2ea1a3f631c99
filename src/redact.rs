//! Personal data redaction (being written).
