//! Pieces every HTTP function's router shares.

use axum::extract::Request;

use crate::ApiError;

/// The fallback of every router: a JSON 404 naming the method and path.
pub async fn route_not_found(request: Request) -> ApiError {
    ApiError::RouteNotFound {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
}

/// A route's query string, or a 400 `invalid_query` in the API's error format: take the extractor's
/// `Result` (axum's own rejection is a plain-text body, which the API contract does not allow).
pub fn query<T>(
    query: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query
        .map(|axum::extract::Query(query)| query)
        .map_err(|rejection| ApiError::BadRequest {
            code: "invalid_query",
            message: rejection.body_text(),
        })
}

/// A route's path segment (`{id}`), or a 400 `invalid_id` in the API's error format when it does
/// not decode (e.g. not UTF-8; axum's own rejection is a plain-text body).
pub fn path_id(
    id: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    id.map(|axum::extract::Path(id)| id)
        .map_err(|rejection| ApiError::BadRequest {
            code: "invalid_id",
            message: rejection.body_text(),
        })
}

/// A field of the route's Lambda authorizer context (`requestContext.authorizer.lambda` of the
/// payload-2.0 event), e.g. `user_id`. `None` on unprotected routes. Take the extensions from the
/// request, e.g. an axum handler's `http::request::Parts`.
pub fn authorizer_field<'a>(extensions: &'a http::Extensions, name: &str) -> Option<&'a str> {
    use lambda_http::RequestExt;
    extensions
        .request_context_ref()?
        .authorizer()?
        .fields
        .get(name)?
        .as_str()
}

/// The client's address as API Gateway saw it (`requestContext.http.sourceIp`).
pub fn source_ip(extensions: &http::Extensions) -> Option<&str> {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    match extensions.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        _ => None,
    }
}

/// Serves one API Gateway HTTP API event through `router` and renders the response in API
/// Gateway's payload-2.0 format. For functions that take HTTP requests among other triggers (sync):
/// `lambda_http::run` covers HTTP-only functions, but its response future is not `Send`.
pub async fn serve_api_gateway_event(
    router: axum::Router,
    request: lambda_http::request::LambdaRequest,
) -> aws_lambda_events::apigw::ApiGatewayV2httpResponse {
    use http_body_util::BodyExt;
    use lambda_http::Body;
    use tower::ServiceExt;

    let request: http::Request<Body> = request.into();
    let Ok(response) = router.oneshot(request).await;
    let (parts, body) = response.into_parts();
    let mut out = aws_lambda_events::apigw::ApiGatewayV2httpResponse::default();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            tracing::error!(%error, "reading the response body failed: {error}");
            out.status_code = 500;
            return out;
        }
    };
    out.status_code = i64::from(parts.status.as_u16());
    for (name, value) in &parts.headers {
        if name == http::header::SET_COOKIE {
            if let Ok(cookie) = value.to_str() {
                out.cookies.push(cookie.to_owned());
            }
        } else {
            out.headers.append(name, value.clone());
        }
    }
    if !bytes.is_empty() {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => out.body = Some(Body::Text(text)),
            Err(binary) => {
                out.body = Some(Body::Binary(binary.into_bytes()));
                out.is_base64_encoded = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext};
    use lambda_http::request::RequestContext;

    use super::*;

    #[test]
    fn reads_the_authorizer_context_and_the_source_ip() {
        let mut extensions = http::Extensions::new();
        assert_eq!(authorizer_field(&extensions, "principal"), None);
        assert_eq!(source_ip(&extensions), None);

        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer
            .fields
            .insert("principal".into(), serde_json::json!("operator"));
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        context.http.source_ip = Some("203.0.113.7".into());
        extensions.insert(RequestContext::ApiGatewayV2(context));

        assert_eq!(authorizer_field(&extensions, "principal"), Some("operator"));
        assert_eq!(source_ip(&extensions), Some("203.0.113.7"));
    }
}
