//! `mock_lists.rs`: the list operations the mock server serves generically.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::lists::ListOperation;

/// The table, as a function the mock calls.
pub fn mock_lists(lists: &[ListOperation]) -> TokenStream {
    let entries = lists.iter().map(|op| {
        let item = Ident::new(&op.item_type, Span::call_site());
        let (id, path, field) = (&op.id, &op.path, &op.items_field);
        let modes = op
            .modes
            .iter()
            .map(|m| Ident::new(m.name(), Span::call_site()));
        let size = match &op.size {
            Some((name, _)) => quote!(Some(#name)),
            None => quote!(None),
        };
        quote! {
            ListOperation {
                operation: #id, path: #path, field: #field,
                modes: &[#(PagingMode::#modes),*], size_parameter: #size,
                item_schema: || schemars::schema_for!(crate::types::#item),
            },
        }
    });
    quote! {
        pub(crate) fn list_operations() -> Vec<ListOperation> {
            vec![#(#entries)*]
        }
    }
}
