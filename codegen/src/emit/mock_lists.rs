//! `mock_lists.rs`: the list operations the mock server serves generically.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::lists::ListOperation;

/// The table, as a function the mock calls.
pub fn mock_lists(lists: &[ListOperation]) -> TokenStream {
    let entries = lists.iter().filter_map(|op| {
        let response = Ident::new(op.response_type.as_deref()?, Span::call_site());
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
        let (api_key, tenant_in_path, has_tenant) = (op.api_key, op.tenant_in_path, op.has_tenant);
        Some(quote! {
            ListOperation {
                operation: #id, path: #path, field: #field,
                modes: &[#(PagingMode::#modes),*], size_parameter: #size,
                api_key: #api_key, tenant_in_path: #tenant_in_path, has_tenant: #has_tenant,
                respond: typed::<crate::types::#response>,
                response_schema: || schemars::schema_for!(crate::types::#response),
                item_schema: || schemars::schema_for!(crate::types::#item),
            },
        })
    });
    quote! {
        pub(crate) fn list_operations() -> Vec<ListOperation> {
            vec![#(#entries)*]
        }
    }
}
