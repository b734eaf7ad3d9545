//! Enums whose every value is also a label: one list gives the variants, their `ALL` (every
//! variant, in order) and their labels, so that a label set built from `ALL` can miss none.
//!
//! Owns: the [`labelled`] macro. Must never: let `ALL` and the variants disagree (they are
//! written once, together), so `variant as usize` is always an index into `ALL`.

/// An enum of unit variants, each with its label, and `ALL` and `as_str` from the same list.
macro_rules! labelled {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident => $label:literal,)+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order (`variant as usize` is its index).
            pub const ALL: [$name; [$($label),+].len()] = [$($name::$variant),+];

            /// Its label.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }
        }
    };
}

pub(crate) use labelled;
