//! Any operation by its `operationId`, with parameters as strings and the body as JSON:
//! the way in for tools that take an operation's name at run time (the `fastcomments`
//! command-line tool builds one subcommand per entry of
//! [`operations::OPERATIONS`](crate::operations::OPERATIONS) and sends it through here).
//! It goes through the same request path as the typed builders (API key where the spec
//! requires it, retries, fallback host, body limit, typed [`Error`]); the answer is the
//! JSON FastComments sent, not decoded into the operation's type.

use serde_json::Value;

use super::{Client, path_segment};
use crate::Error;
use crate::operations::{self, Body, Operation, Parameter, ParameterIn, ParameterKind};

impl Client {
    /// A call of the operation `operation_id` (the spec's `operationId`, e.g.
    /// `GetComments`), to be given its parameters and sent.
    ///
    /// `tenantId` is preset from the client where the operation takes it. The answer is
    /// the success body as [`serde_json::Value`]; a failure is the same [`Error`] a typed
    /// builder returns.
    ///
    /// ```no_run
    /// # async fn demo(client: &fastcomments::Client) -> Result<(), fastcomments::Error> {
    /// let page = client
    ///     .call("GetComments")?
    ///     .param("urlId", "my-page")
    ///     .param("limit", "10")
    ///     .send()
    ///     .await?;
    /// println!("{}", page["comments"]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when the spec has no such operation.
    pub fn call(&self, operation_id: &str) -> Result<Call<'_>, Error> {
        let operation = operations::find(operation_id).ok_or_else(|| {
            Error::InvalidRequest(format!("the spec has no operation {operation_id:?}"))
        })?;
        Ok(Call {
            client: self,
            operation,
            values: Vec::new(),
            body: None,
        })
    }
}

/// Builder for [`Client::call`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Call<'a> {
    client: &'a Client,
    operation: &'static Operation,
    values: Vec<(String, String)>,
    body: Option<Value>,
}

impl Call<'_> {
    /// The operation this call sends.
    pub fn operation(&self) -> &'static Operation {
        self.operation
    }

    /// Sets the parameter `name` (the spec's spelling, e.g. `urlId`) to `value`. An
    /// array parameter takes one call per item; any other replaces an earlier value.
    /// Checked when sent.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let is_array = self
            .operation
            .parameter(&name)
            .is_some_and(|p| p.kind == ParameterKind::Array);
        if !is_array {
            self.values.retain(|(n, _)| *n != name);
        }
        self.values.push((name, value.into()));
        self
    }

    /// The JSON request body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends the call and returns FastComments' answer.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] before anything is sent when a parameter is unknown to
    /// the operation, a required one or a required body is missing, a value is not of
    /// the parameter's kind (an integer, a number, `true`/`false`, one of an enum's
    /// values), a body is given to an operation that takes none, or the operation takes
    /// a `multipart/form-data` body (use [`Client::upload_image`]);
    /// [`Error::InvalidPathParameter`] for a path value that would change the path; then
    /// any error of the request path.
    pub async fn send(self) -> Result<Value, Error> {
        let request = self.request()?;
        super::send::<Value>(self.client.generated(), request, self.operation).await
    }

    fn request(&self) -> Result<reqwest::Request, Error> {
        let op = self.operation;
        let invalid = |message: String| Error::InvalidRequest(format!("{}: {message}", op.id));
        let tenant = self.client.tenant_id().filter(|_| {
            op.parameter("tenantId").is_some() && !self.values.iter().any(|(n, _)| n == "tenantId")
        });
        let values: Vec<(&'static Parameter, &str)> = self
            .values
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(tenant.map(|t| ("tenantId", t)))
            .map(|(name, value)| match op.parameter(name) {
                Some(p) => check_value(p, value).map(|()| (p, value)).map_err(&invalid),
                None => Err(invalid(format!("takes no parameter {name:?}"))),
            })
            .collect::<Result<_, _>>()?;
        if let Some(missing) = op
            .parameters
            .iter()
            .find(|p| p.required && !values.iter().any(|(v, _)| v.name == p.name))
        {
            return Err(invalid(format!(
                "the parameter {} is required",
                missing.name
            )));
        }
        let mut url = reqwest::Url::parse(&format!(
            "{}{}",
            self.client.base_url(),
            self.path(&values)?
        ))
        .map_err(|e| invalid(format!("the URL is not valid: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            for (p, value) in values.iter().filter(|(p, _)| p.place == ParameterIn::Query) {
                query.append_pair(p.name, value);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let method = reqwest::Method::from_bytes(op.method.as_bytes())
            .map_err(|e| invalid(e.to_string()))?;
        let mut builder = self.client.generated().client.request(method, url);
        for (p, value) in values
            .iter()
            .filter(|(p, _)| p.place == ParameterIn::Header)
        {
            builder = builder.header(p.name, *value);
        }
        builder = match (op.body, &self.body) {
            (Body::Multipart, _) => {
                return Err(invalid(
                    "takes a multipart/form-data body: use Client::upload_image".into(),
                ));
            }
            (Body::None, Some(_)) => return Err(invalid("takes no request body".into())),
            (Body::Json { required: true }, None) => {
                return Err(invalid("a JSON request body is required".into()));
            }
            (_, Some(body)) => builder.json(body),
            (_, None) => builder,
        };
        builder.build().map_err(|e| invalid(e.to_string()))
    }

    /// The path template with each `{name}` replaced by its value, one encoded segment.
    fn path(&self, values: &[(&'static Parameter, &str)]) -> Result<String, Error> {
        let op = self.operation;
        let mut path = String::with_capacity(op.path.len());
        let mut rest = op.path;
        let mut ordinal = 0;
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').map_or(rest.len(), |e| start + e);
            let name = &rest[start + 1..end];
            let value = values
                .iter()
                .find(|(p, _)| p.name == name)
                .map_or("", |(_, v)| *v);
            path.push_str(&rest[..start]);
            path.push_str(&path_segment(op, ordinal, value).map_err(Error::from)?);
            ordinal += 1;
            rest = rest.get(end + 1..).unwrap_or("");
        }
        path.push_str(rest);
        Ok(path)
    }
}

/// Checks `value` against the parameter's kind.
fn check_value(parameter: &Parameter, value: &str) -> Result<(), String> {
    let fits = match parameter.kind {
        ParameterKind::Integer => value.parse::<i64>().is_ok(),
        ParameterKind::Number => value.parse::<f64>().is_ok_and(f64::is_finite),
        ParameterKind::Boolean => matches!(value, "true" | "false"),
        ParameterKind::Enum(values) => values.contains(&value),
        ParameterKind::String | ParameterKind::Array => true,
    };
    if fits {
        return Ok(());
    }
    let expected = match parameter.kind {
        ParameterKind::Integer => "an integer".to_owned(),
        ParameterKind::Number => "a number".to_owned(),
        ParameterKind::Boolean => "true or false".to_owned(),
        ParameterKind::Enum(values) => format!("one of {}", values.join(", ")),
        ParameterKind::String | ParameterKind::Array => String::new(),
    };
    let shown: String = value.chars().take(64).collect();
    Err(format!(
        "the parameter {} is {shown:?}, not {expected}",
        parameter.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::builder()
            .tenant_id("t 1")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap()
    }

    #[test]
    fn parameters_go_where_the_spec_puts_them_and_the_tenant_is_preset() {
        let request = client()
            .call("GetComments")
            .unwrap()
            .param("urlId", "a/b c")
            .param("limit", "10")
            .request()
            .unwrap();
        assert_eq!(request.method(), "GET");
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:9/api/v1/comments?urlId=a%2Fb+c&limit=10&tenantId=t+1"
        );
        let request = client()
            .call("DeleteComment")
            .unwrap()
            .param("id", "x/..")
            .request()
            .unwrap();
        assert_eq!(request.url().path(), "/api/v1/comments/x%2F..");
    }

    #[test]
    fn an_array_parameter_repeats_and_another_is_replaced() {
        let request = client()
            .call("GetFeedPosts")
            .unwrap()
            .param("tags", "a")
            .param("tags", "b")
            .param("limit", "1")
            .param("limit", "2")
            .request()
            .unwrap();
        assert_eq!(
            request.url().query(),
            Some("tags=a&tags=b&limit=2&tenantId=t+1")
        );
    }

    #[test]
    fn bad_calls_are_refused_before_sending_with_the_reason() {
        let refused = |call: Call<'_>| match call.request() {
            Err(Error::InvalidRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        let c = client();
        assert!(matches!(
            c.call("NoSuchThing"),
            Err(Error::InvalidRequest(_))
        ));
        let m = refused(c.call("GetComments").unwrap().param("nope", "1"));
        assert!(m.contains("takes no parameter \"nope\""), "{m}");
        let m = refused(c.call("GetComments").unwrap().param("limit", "ten"));
        assert!(m.contains("not an integer"), "{m}");
        let m = refused(c.call("GetComments").unwrap().param("direction", "up"));
        assert!(m.contains("one of"), "{m}");
        let m = refused(c.call("DeleteComment").unwrap());
        assert!(m.contains("the parameter id is required"), "{m}");
        let m = refused(c.call("GetComments").unwrap().body(serde_json::json!({})));
        assert!(m.contains("takes no request body"), "{m}");
        let m = refused(c.call("UploadImage").unwrap());
        assert!(m.contains("upload_image"), "{m}");
        assert!(matches!(
            c.call("DeleteComment").unwrap().param("id", "..").request(),
            Err(Error::InvalidPathParameter { .. })
        ));
    }
}
