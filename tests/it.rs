//! The one integration-test binary. Every module lives in `tests/it/` and is declared inside the `it` block
//! below; nothing else lives here.

mod it {
    mod classify;
}
