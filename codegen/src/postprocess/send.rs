//! Gives every operation builder a `send()` that returns `fastcomments::Error`.
//!
//! Progenitor's `send()` builds the request, runs it through `ClientHooks`, then decodes
//! the body with `serde_json::from_slice`, failing with `progenitor_client::Error`. Its
//! hooks can fail a call only with `Error::Custom(String)`, so a typed error cannot come
//! out of them, and the body would be decoded after the facade had already read it.
//!
//! This pass splits each `send()` where the hooks begin: the statements that build the
//! request become a private `build_request()`, and a new `send()` hands the request to
//! the facade's one request path (`crate::client::send`), which authorizes, retries,
//! reads the body within its limit, tells failures from successes and decodes once,
//! into the response type progenitor had declared. Lost: nothing; the hooks are never
//! called. The `api-version` header progenitor adds (the spec's `info.version`, always
//! "0.0.0") is dropped on the way.
//!
//! Every path value goes through `crate::client::path_segment` instead of progenitor's
//! `encode_path`: the same encoding and `\` (which the URL would read as `/`), and an
//! empty value or a dot segment (which the URL would remove, sending the call to another
//! path) fails `build_request()` with
//! `crate::client::BuildError`, naming the parameter, before anything is sent. Lost:
//! nothing a server could have accepted as that parameter.
//!
//! Both are `#[inline]`: a non-generic function is compiled into the crate that defines
//! it whether or not anyone calls it, an inline one only where it is used, so a user's
//! build compiles the request code of the operations it calls, not of all 208.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::ToTokens;

use super::{module_items, type_name};

/// The name of the private method holding the request-building half of `send()`.
const BUILD_REQUEST: &str = "build_request";

/// Rewrites every `send()` of the `builder` module. `index_of` maps progenitor's
/// operation name (`OperationInfo::operation_id`, the snake-case method name) to the
/// operation's index in `crate::operations::OPERATIONS`. Returns each operation's
/// response type (`types::X`, `Vec<types::X>`, ...), by builder.
pub fn rewrite(
    file: &mut syn::File,
    index_of: &BTreeMap<String, usize>,
) -> Result<BTreeMap<String, syn::Type>, String> {
    let items = module_items(file, "builder").ok_or("progenitor emitted no builder module")?;
    let mut responses = BTreeMap::new();
    for item in items.iter_mut() {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let builder = type_name(&block.self_ty).unwrap_or_default();
        let Some(position) = block
            .items
            .iter()
            .position(|i| matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "send"))
        else {
            continue;
        };
        if block
            .items
            .iter()
            .any(|i| matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == BUILD_REQUEST))
        {
            return Err(format!(
                "{builder} already has a method named {BUILD_REQUEST}"
            ));
        }
        let syn::ImplItem::Fn(send) = block.items.remove(position) else {
            unreachable!("matched a fn above");
        };
        let (build_request, send, response) =
            split(send, index_of).map_err(|e| format!("{builder}::send: {e}"))?;
        block.items.insert(position, build_request);
        block.items.insert(position + 1, send);
        responses.insert(builder, response);
    }
    Ok(responses)
}

/// `(build_request, send, response type)` for one generated `send`.
fn split(
    send: syn::ImplItemFn,
    index_of: &BTreeMap<String, usize>,
) -> Result<(syn::ImplItem, syn::ImplItem, syn::Type), String> {
    let response = response_type(&send.sig.output)?;
    let stmts = &send.block.stmts;
    let hooks_begin = stmts
        .iter()
        .position(|s| mentions(s, "OperationInfo"))
        .ok_or("no `OperationInfo`: progenitor's send() has changed shape")?;
    let operation = operation_name(&stmts[hooks_begin])?;
    let index = *index_of
        .get(&operation)
        .ok_or_else(|| format!("operation {operation} is not in the operations table"))?;
    if !stmts.first().is_some_and(|s| mentions(s, "client")) {
        return Err("it does not start by taking `client` out of the builder".into());
    }
    let mut ordinal = 0;
    let building = stmts[..hooks_begin]
        .iter()
        .filter(|s| !s.to_token_stream().to_string().contains("\"api-version\""))
        .map(|s| checked_paths(s, index, &mut ordinal))
        .collect::<Result<Vec<_>, _>>()?;
    if building.iter().any(|s| mentions(s, "await")) {
        return Err("building the request awaits something".into());
    }
    let docs = send.attrs.iter().filter(|a| a.path().is_ident("doc"));
    let build_request: syn::ImplItem = syn::parse_quote! {
        /// Builds the request this builder describes, checking its parameters.
        #[inline]
        fn build_request(
            self,
        ) -> ::std::result::Result<(&'a super::Client, ::reqwest::Request), crate::client::BuildError> {
            #(#building)*
            Ok((client, request))
        }
    };
    let send: syn::ImplItem = syn::parse_quote! {
        #(#docs)*
        ///
        /// Goes through the client's request path: API key where the spec requires it,
        /// retries, fallback host, body limit; any failure is a [`crate::Error`].
        #[inline]
        pub async fn send(self) -> ::std::result::Result<#response, crate::Error> {
            let (client, request) = self.build_request().map_err(crate::Error::from)?;
            crate::client::send(client, request, &crate::operations::OPERATIONS[#index]).await
        }
    };
    Ok((build_request, send, response))
}

/// `stmt` with each `encode_path(value)` made `crate::client::path_segment(operation,
/// ordinal, value)?`; `ordinal` counts the path values in order, which is the order of
/// the `{parameters}` of the operation's path template.
fn checked_paths(stmt: &syn::Stmt, index: usize, ordinal: &mut usize) -> Result<syn::Stmt, String> {
    fn walk(tokens: TokenStream, index: usize, ordinal: &mut usize) -> TokenStream {
        let mut out = Vec::new();
        let mut tokens = tokens.into_iter().peekable();
        while let Some(token) = tokens.next() {
            match token {
                proc_macro2::TokenTree::Ident(i) if i == "encode_path" => {
                    let Some(proc_macro2::TokenTree::Group(args)) = tokens.next_if(|t| {
                        matches!(t, proc_macro2::TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
                    }) else {
                        out.push(proc_macro2::TokenTree::Ident(i));
                        continue;
                    };
                    let value = walk(args.stream(), index, ordinal);
                    let n = *ordinal;
                    *ordinal += 1;
                    let checked: TokenStream = quote::quote! {
                        crate::client::path_segment(&crate::operations::OPERATIONS[#index], #n, #value)?
                    };
                    out.extend(checked);
                }
                proc_macro2::TokenTree::Group(g) => {
                    let mut group =
                        proc_macro2::Group::new(g.delimiter(), walk(g.stream(), index, ordinal));
                    group.set_span(g.span());
                    out.push(proc_macro2::TokenTree::Group(group));
                }
                other => out.push(other),
            }
        }
        out.into_iter().collect()
    }
    let tokens = walk(stmt.to_token_stream(), index, ordinal);
    syn::parse2(tokens)
        .map_err(|e| format!("a statement with checked path values does not parse: {e}"))
}

/// `T` of `Result<ResponseValue<T>, Error<E>>`.
fn response_type(output: &syn::ReturnType) -> Result<syn::Type, String> {
    let syn::ReturnType::Type(_, ty) = output else {
        return Err("send() returns nothing".into());
    };
    let first_argument = |ty: &syn::Type, name: &str| -> Option<syn::Type> {
        let syn::Type::Path(path) = ty else {
            return None;
        };
        let last = path.path.segments.last()?;
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        match args.args.first()? {
            syn::GenericArgument::Type(t) if last.ident == name => Some(t.clone()),
            _ => None,
        }
    };
    first_argument(ty, "Result")
        .and_then(|value| first_argument(&value, "ResponseValue"))
        .ok_or_else(|| format!("unexpected return type {}", ty.to_token_stream()))
}

/// The string in `OperationInfo { operation_id: "..." }`.
fn operation_name(stmt: &syn::Stmt) -> Result<String, String> {
    let text = stmt.to_token_stream().to_string();
    text.split("operation_id :")
        .nth(1)
        .and_then(|rest| rest.split('"').nth(1))
        .map(str::to_owned)
        .ok_or_else(|| format!("no operation_id in `{text}`"))
}

fn mentions(stmt: &syn::Stmt, ident: &str) -> bool {
    fn walk(tokens: TokenStream, ident: &str) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == ident,
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), ident),
            _ => false,
        })
    }
    walk(stmt.to_token_stream(), ident)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape progenitor 0.15 gives a builder's `send`.
    fn generated() -> syn::File {
        syn::parse_quote! {
            pub mod builder {
                pub struct GetThing<'a> { client: &'a super::Client, id: Result<String, String> }
                impl<'a> GetThing<'a> {
                    pub fn id<V>(mut self, value: V) -> Self { self }
                    ///Sends a `GET` request to `/things/{id}`
                    pub async fn send(self) -> Result<ResponseValue<types::Thing>, Error<types::ApiError>> {
                        let Self { client, id } = self;
                        let id = id.map_err(Error::InvalidRequest)?;
                        let url = format!("{}/things/{}", client.baseurl, encode_path(&id.to_string()));
                        let mut header_map = ::reqwest::header::HeaderMap::with_capacity(1usize);
                        header_map.append(
                            ::reqwest::header::HeaderName::from_static("api-version"),
                            ::reqwest::header::HeaderValue::from_static(super::Client::api_version()),
                        );
                        #[allow(unused_mut)]
                        let mut request = client.client.get(url).headers(header_map).build()?;
                        let info = OperationInfo { operation_id: "get_thing" };
                        client.pre(&mut request, &info).await?;
                        let result = client.exec(request, &info).await;
                        client.post(&result, &info).await?;
                        let response = result?;
                        match response.status().as_u16() {
                            200u16 => ResponseValue::from_response(response).await,
                            _ => Err(Error::UnexpectedResponse(response)),
                        }
                    }
                }
            }
        }
    }

    fn rewritten() -> String {
        let mut file = generated();
        let index = BTreeMap::from([("get_thing".to_string(), 7)]);
        let Ok(responses) = rewrite(&mut file, &index) else {
            panic!("rewrite failed");
        };
        let response = responses["GetThing"].to_token_stream().to_string();
        assert_eq!(response, "types :: Thing");
        file.to_token_stream().to_string()
    }

    #[test]
    fn send_returns_the_declared_type_through_the_facade() {
        let code = rewritten();
        assert!(
            code.contains("pub async fn send (self) -> :: std :: result :: Result < types :: Thing , crate :: Error >"),
            "{code}"
        );
        assert!(code.contains("crate :: client :: send (client , request , & crate :: operations :: OPERATIONS [7usize])"), "{code}");
        let send = code.split("pub async fn send").next().unwrap();
        assert!(
            send.contains("Sends a `GET` request to `/things/{id}`"),
            "docs kept"
        );
    }

    #[test]
    fn build_request_keeps_the_building_and_drops_hooks_and_api_version() {
        let code = rewritten();
        let build = code.split("fn build_request").nth(1).unwrap();
        let build = build.split("pub async fn send").next().unwrap();
        assert!(build.contains("map_err (Error :: InvalidRequest)"));
        assert!(
            build.contains("crate :: client :: path_segment (& crate :: operations :: OPERATIONS [7usize] , 0usize , & id . to_string ()) ?"),
            "every path value is checked: {build}"
        );
        assert!(!build.contains("encode_path"), "{build}");
        assert!(build.contains("build () ?"));
        assert!(build.contains("Ok ((client , request))"));
        for gone in ["api-version", "OperationInfo", "exec", "from_response"] {
            assert!(!code.contains(gone), "{gone} left in {code}");
        }
    }

    #[test]
    fn an_unknown_operation_or_shape_fails_loudly() {
        let mut file = generated();
        let Err(error) = rewrite(&mut file, &BTreeMap::new()) else {
            panic!("an operation missing from the table must fail");
        };
        assert!(error.contains("get_thing"), "{error}");

        let mut odd: syn::File = syn::parse_quote! {
            pub mod builder {
                impl<'a> X<'a> { pub async fn send(self) -> Result<(), ()> { Ok(()) } }
            }
        };
        let Err(error) = rewrite(&mut odd, &BTreeMap::new()) else {
            panic!("an odd send() must fail");
        };
        assert!(error.contains("X::send"), "{error}");
    }
}
