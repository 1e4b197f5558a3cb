//! Signature verification, one function per scheme; see [`super`].
