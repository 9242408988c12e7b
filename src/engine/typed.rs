//! Typed calls: function handles whose parameter and result types were
//! checked once.

use super::Instance;
use crate::bytecode::Bank;
use crate::error::{Error, Result};
use crate::runtime::value::{Ref, Value};

/// A function handle whose parameter and result types were checked once.
pub struct TypedFunc<P, R> {
    pub(super) idx: usize,
    pub(super) _marker: std::marker::PhantomData<fn(P) -> R>,
}

impl<P: Params, R: Results> TypedFunc<P, R> {
    /// Call it.
    pub fn call(&self, instance: &mut Instance, params: P) -> Result<R> {
        let out = instance.call_index(self.idx, &params.into_values())?;
        R::from_value(out)
    }
}

/// A Rust type that is one bytecode value.
pub trait ValType: Copy {
    /// Its bank.
    const BANK: Bank;
    /// As a [`Value`].
    fn into_value(self) -> Value;
    /// From a [`Value`] of its bank.
    fn from_value(v: Value) -> Option<Self>;
}

impl ValType for i64 {
    const BANK: Bank = Bank::I;
    fn into_value(self) -> Value {
        Value::I(self)
    }
    fn from_value(v: Value) -> Option<i64> {
        if let Value::I(x) = v { Some(x) } else { None }
    }
}

impl ValType for f64 {
    const BANK: Bank = Bank::F;
    fn into_value(self) -> Value {
        Value::F(self)
    }
    fn from_value(v: Value) -> Option<f64> {
        if let Value::F(x) = v { Some(x) } else { None }
    }
}

impl ValType for Ref {
    const BANK: Bank = Bank::R;
    fn into_value(self) -> Value {
        Value::R(self)
    }
    fn from_value(v: Value) -> Option<Ref> {
        if let Value::R(x) = v { Some(x) } else { None }
    }
}

/// Parameter lists of typed calls: tuples of [`ValType`]s.
pub trait Params {
    /// The parameter banks.
    fn banks() -> Vec<Bank>;
    /// The values.
    fn into_values(self) -> Vec<Value>;
}

/// Results of typed calls: `()` or one [`ValType`].
pub trait Results: Sized {
    /// The result bank.
    fn bank() -> Option<Bank>;
    /// From the call's result.
    fn from_value(v: Option<Value>) -> Result<Self>;
}

impl Results for () {
    fn bank() -> Option<Bank> {
        None
    }
    fn from_value(_: Option<Value>) -> Result<()> {
        Ok(())
    }
}

impl<T: ValType> Results for T {
    fn bank() -> Option<Bank> {
        Some(T::BANK)
    }
    fn from_value(v: Option<Value>) -> Result<T> {
        v.and_then(T::from_value)
            .ok_or_else(|| Error::Call("result of the wrong bank".into()))
    }
}

macro_rules! impl_params {
    ($($t:ident),*) => {
        impl<$($t: ValType),*> Params for ($($t,)*) {
            fn banks() -> Vec<Bank> {
                vec![$($t::BANK),*]
            }
            #[allow(non_snake_case)]
            fn into_values(self) -> Vec<Value> {
                let ($($t,)*) = self;
                vec![$($t.into_value()),*]
            }
        }
    };
}

impl_params!();
impl_params!(A);
impl_params!(A, B);
impl_params!(A, B, C);
impl_params!(A, B, C, D);
impl_params!(A, B, C, D, E);
impl_params!(A, B, C, D, E, G);
