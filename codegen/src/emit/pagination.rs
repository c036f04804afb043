//! `pagination.rs`: a `Paginated` impl and an inherent `stream()` per list operation, and
//! the table of them (`fastcomments::pagination::LIST_OPERATIONS`).

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::lists::{ListOperation, Number, Paging};

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

fn modes(op: &ListOperation) -> TokenStream {
    let modes = op.modes.iter().map(|m| ident(m.name()));
    quote!(&[#(PagingMode::#modes),*])
}

/// Everything the pagination module includes.
pub fn pagination(lists: &[ListOperation]) -> TokenStream {
    let table = lists.iter().map(|op| {
        let (id, modes) = (&op.id, modes(op));
        quote!((#id, #modes),)
    });
    let impls = lists.iter().map(list_impl);
    quote! {
        /// Every operation with a stream, and the paging modes it supports (default first).
        pub static LIST_OPERATIONS: &[(&str, &[PagingMode])] = &[#(#table)*];
        #(#impls)*
    }
}

fn number(n: Number) -> Ident {
    ident(n.rust())
}

fn list_impl(op: &ListOperation) -> TokenStream {
    let builder = ident(&op.builder_name());
    let item = ident(&op.item_type);
    let id = &op.id;
    let modes = modes(op);
    let arms = op.modes.iter().map(|mode| match mode {
        Paging::Skip => {
            let t = number(op.skip_type.unwrap_or(Number::I32));
            quote!(Position::Offset(n) => self.skip(parameter::<#t>(*n, "skip")?),)
        }
        Paging::Page => {
            let t = number(op.page_type.unwrap_or(Number::I32));
            quote!(Position::Page(n) => self.page(parameter::<#t>(*n, "page")?),)
        }
        Paging::AfterId => quote!(Position::AfterId(id) => self.after_id(id.clone()),),
        Paging::Cursor => quote!(Position::Cursor(c) => self.cursor(c.clone()),),
    });
    let sized = match (&op.size, op.size_setter()) {
        (Some((name, t)), Some(setter)) => {
            let (t, setter) = (number(*t), ident(&setter));
            quote! {
                match page_size {
                    Some(n) => builder.#setter(parameter::<#t>(n, #name)?),
                    None => builder,
                }
            }
        }
        _ => quote!(builder),
    };
    let size_parameter = match &op.size {
        Some((name, _)) => quote!(Some(#name)),
        None => quote!(None),
    };
    let default_size: u64 = if op.id == "GetAuditLogs" { 1000 } else { 100 };
    let field = ident(&heck::ToSnakeCase::to_snake_case(op.items_field.as_str()));
    let items = if op.items_required {
        quote!(response.#field)
    } else {
        quote!(response.#field.unwrap_or_default())
    };
    let has_more = match op.has_more {
        Some(true) => quote!(Some(response.has_more)),
        Some(false) => quote!(response.has_more),
        None => quote!(None),
    };
    let next_cursor = match op.next_cursor {
        Some(true) => quote!(Some(response.next_cursor.clone())),
        Some(false) => quote!(response.next_cursor.clone()),
        None => quote!(None),
    };
    let item_id = match op.item_id {
        Some(true) => quote!(Some(item.id.clone())),
        Some(false) => quote!(item.id.clone()),
        None => quote!({
            let _ = item;
            None
        }),
    };
    let doc = format!(
        " Streams every item of `{id}` from the first page on, fetching ahead: see \
         [`crate::pagination`]."
    );
    quote! {
        impl<'a> Paginated<'a> for crate::builder::#builder<'a> {
            type Item = crate::types::#item;
            const OPERATION: &'static str = #id;
            const MODES: &'static [PagingMode] = #modes;
            const PAGE_SIZE_PARAMETER: Option<&'static str> = #size_parameter;
            const DEFAULT_PAGE_SIZE: u64 = #default_size;

            #[inline]
            fn at(self, position: &Position, page_size: Option<u64>) -> Result<Self, crate::Error> {
                let builder = match position {
                    #(#arms)*
                    _ => self,
                };
                let _ = page_size;
                Ok(#sized)
            }

            #[inline]
            fn fetch(self) -> futures_util::future::BoxFuture<'a, Result<Page<Self::Item>, crate::Error>> {
                Box::pin(async move {
                    let response = self.send().await?;
                    Ok(Page {
                        has_more: #has_more,
                        next_cursor: #next_cursor,
                        items: #items,
                    })
                })
            }

            #[inline]
            fn item_id(item: &Self::Item) -> Option<String> {
                #item_id
            }
        }

        impl<'a> crate::builder::#builder<'a> {
            #[doc = #doc]
            #[inline]
            pub fn stream(self) -> Pages<'a, Self> {
                Pages::new(self)
            }
        }
    }
}
