//! A read-only view of the variables document, implemented for parsed JSON in `json.rs` and
//! for Python objects in `py.rs`, so hydration never converts the input first.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    List,
    Object,
    Other,
}

/// A number as given: integers stay integers in the output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// `f` as i64 if it is a whole number in i64's range.
pub fn integral(f: f64) -> Option<i64> {
    // 2^63 is exact as f64; the range is [-2^63, 2^63).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

/// `'v` is how long the strings it hands out live (the input document, or `'static` when
/// they are copied out of Python objects).
pub trait Var<'v>: Sized {
    fn kind(&self) -> Kind;
    /// `None` if not a string; `Some(None)` if a string that is not valid Unicode.
    fn text(&self) -> Option<Option<Cow<'v, str>>>;
    /// Integers, and floats with an integral value, that fit in i64 (JSON `-0` and `1e3`
    /// parse as floats).
    fn int(&self) -> Option<i64>;
    /// Integers that fit in i64, and floats.
    fn num(&self) -> Option<Num>;
    fn len(&self) -> usize;
    fn item(&self, i: usize) -> Option<Self>;
    /// The value under `key` of an object; absent and null are both `None`.
    fn get(&self, key: &str) -> Option<Self>;
    /// Every key of an object in order; `None` for a key that is not a valid Unicode string.
    fn for_each_key(&self, f: &mut dyn FnMut(Option<&str>));
}
