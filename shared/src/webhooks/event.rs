//! Normalisation of each sender's envelope into one `Event`; see [`super`].
