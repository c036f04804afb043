//! `UploadImage`, the spec's one `multipart/form-data` operation, which progenitor
//! cannot generate: written by hand, sent through the same request path.

use bytes::Bytes;

use super::Client;
use crate::{Error, operations, types};

impl Client {
    /// `POST /upload-image/{tenantId}` (UploadImage): uploads and resizes an image.
    ///
    /// Written by hand: the spec's `multipart/form-data` body is beyond progenitor.
    /// Public: the API key is never sent. Use [`UploadImage::tenant_id`] to upload for
    /// another tenant than the client's.
    ///
    /// ```no_run
    /// # async fn demo(client: &fastcomments::Client) -> Result<(), fastcomments::Error> {
    /// let png = std::fs::read("avatar.png").unwrap();
    /// let uploaded = client.upload_image(png, "avatar.png").url_id("my-page").send().await?;
    /// println!("{:?}", uploaded.url);
    /// # Ok(()) }
    /// ```
    pub fn upload_image(
        &self,
        image: impl Into<Bytes>,
        file_name: impl Into<String>,
    ) -> UploadImage<'_> {
        UploadImage {
            client: self,
            tenant_id: self.tenant_id().map(str::to_owned),
            image: image.into(),
            file_name: file_name.into(),
            content_type: None,
            size_preset: None,
            url_id: None,
        }
    }
}

/// Builder for [`Client::upload_image`].
#[derive(Debug)]
#[must_use]
pub struct UploadImage<'a> {
    client: &'a Client,
    tenant_id: Option<String>,
    image: Bytes,
    file_name: String,
    content_type: Option<String>,
    size_preset: Option<types::SizePreset>,
    url_id: Option<String>,
}

impl UploadImage<'_> {
    /// Uploads for this tenant instead of the client's.
    pub fn tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The image's MIME type; guessed from the file name's extension otherwise.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// `Default` (1000×1000 px) or `CrossPlatform` (sizes for popular devices).
    pub fn size_preset(mut self, preset: types::SizePreset) -> Self {
        self.size_preset = Some(preset);
        self
    }

    /// The page the upload happens from.
    pub fn url_id(mut self, url_id: impl Into<String>) -> Self {
        self.url_id = Some(url_id.into());
        self
    }

    /// Sends the upload.
    pub async fn send(self) -> Result<types::UploadImageResponse, Error> {
        let operation = operations::find("UploadImage")
            .ok_or_else(|| Error::InvalidRequest("UploadImage is not in the spec".into()))?;
        let tenant_id = self
            .tenant_id
            .ok_or_else(|| Error::InvalidRequest("tenant_id was not initialized".into()))?;
        let content_type = self
            .content_type
            .unwrap_or_else(|| guess_image_type(&self.file_name).into());
        let multipart =
            Multipart::single_file("file", &self.file_name, &content_type, &self.image)?;
        let url = format!(
            "{}/upload-image/{}",
            self.client.base_url(),
            crate::client::path_segment(operation, 0, &tenant_id)?
        );
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(preset) = self.size_preset {
            query.push(("sizePreset", preset.to_string()));
        }
        if let Some(url_id) = self.url_id {
            query.push(("urlId", url_id));
        }
        let generated = self.client.generated();
        let request = generated
            .client
            .post(url)
            .query(&query)
            .header(reqwest::header::CONTENT_TYPE, multipart.content_type)
            .header(reqwest::header::ACCEPT, "application/json")
            .body(multipart.body)
            .build()
            .map_err(|e| Error::InvalidRequest(e.without_url().to_string()))?;
        super::send(generated, request, operation).await
    }
}

fn guess_image_type(file_name: &str) -> &'static str {
    let extension = file_name
        .rsplit('.')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "bmp" => "image/bmp",
        "avif" => "image/avif",
        _ => "application/octet-stream",
    }
}

/// A `multipart/form-data` body held in memory, so a request carrying it can be cloned
/// for a retry or the fallback host (reqwest's own multipart form is a one-shot stream).
struct Multipart {
    content_type: String,
    body: Vec<u8>,
}

impl Multipart {
    fn single_file(
        field: &str,
        file_name: &str,
        content_type: &str,
        data: &[u8],
    ) -> Result<Multipart, Error> {
        if [file_name, content_type]
            .iter()
            .any(|s| s.contains(['"', '\r', '\n']))
        {
            return Err(Error::InvalidRequest(
                "file name and content type may not contain quotes or line breaks".into(),
            ));
        }
        let boundary = format!(
            "fastcomments-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        let mut body = Vec::with_capacity(data.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
                 filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Ok(Multipart {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_body_names_the_file() {
        let m = Multipart::single_file("file", "a.png", "image/png", b"PNG").unwrap();
        let body = String::from_utf8(m.body).unwrap();
        assert!(body.contains("name=\"file\"; filename=\"a.png\""));
        assert!(body.contains("\r\n\r\nPNG\r\n--"));
        assert!(Multipart::single_file("file", "a\".png", "image/png", b"").is_err());
    }
}
