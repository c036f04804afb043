//! Fails generation if typify produced a type no value can inhabit (`enum X {}`): that
//! type would fail to decode every response at run time, so better to stop at build time
//! and add a rewrite.

/// The names of the uninhabited enums of `file`, in any module.
pub fn find(file: &syn::File) -> Vec<String> {
    let mut out = Vec::new();
    collect(&file.items, &mut out);
    out
}

fn collect(items: &[syn::Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            syn::Item::Enum(e) if e.variants.is_empty() => out.push(e.ident.to_string()),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect(inner, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_enums_are_found_in_nested_modules() {
        let file: syn::File = syn::parse_quote! {
            pub enum Fine { A }
            pub mod types { pub enum ApiComment {} pub struct S; }
        };
        assert_eq!(find(&file), ["ApiComment"]);
    }
}
