//! Request extractors that answer bad input in the API's own error shape: JSON bodies
//! (content type, size, syntax, shape — naming the field at fault), query strings, and
//! bearer-token callers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{StatusCode, header, request::Parts};
use bot_core::auth::hash_token;
use bot_core::model::{Actor, Role};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;

/// A JSON request body, deserialized with the path of any field at fault.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        let bytes = body(Bytes::from_request(req, state).await)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The request body, or 413 (over [`BODY_LIMIT`](super::BODY_LIMIT)) / 400 in the API's
/// error shape.
pub fn body(bytes: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    bytes.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!("request body is larger than {} bytes", super::BODY_LIMIT),
            )
        } else {
            ApiError::bad_request(format!(
                "could not read the request body: {}",
                rejection.body_text()
            ))
        }
    })
}

/// Parses a JSON document: syntax errors are 400, a well-formed document of the wrong
/// shape (missing field, unknown value) is 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                ApiError::unprocessable(inner.to_string()).with_field(field)
            }
            _ => ApiError::bad_request(format!("malformed JSON: {inner}")),
        }
    })
}

/// A query string, with bad values answered as 422 in the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| ApiQuery(q))
            .map_err(|e: QueryRejection| ApiError::unprocessable(e.body_text()))
    }
}

/// Who is calling the REST API, from `Authorization: Bearer <token>`.
pub struct Caller {
    pub actor: Actor,
    pub role: Role,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs a {role} token; this token is {}",
                self.role
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
        let found = state.core.store.token_by_hash(&hash_token(token)).await?;
        let token = found.ok_or_else(|| ApiError::unauthorized("unknown or revoked token"))?;
        Ok(Caller {
            actor: Actor::Token(token.name),
            role: token.role,
        })
    }
}
