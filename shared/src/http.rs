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

/// The principal the route's Lambda authorizer admitted the request as: its context's `principal`
/// (`requestContext.authorizer.lambda` of the payload-2.0 event). `None` on unprotected routes.
/// Take the extensions from the request, e.g. an axum handler's `http::request::Parts`.
pub fn authorizer_principal(extensions: &http::Extensions) -> Option<&str> {
    use lambda_http::RequestExt;
    extensions
        .request_context_ref()?
        .authorizer()?
        .fields
        .get("principal")?
        .as_str()
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
    fn reads_the_principal_of_the_authorizer_context() {
        let mut extensions = http::Extensions::new();
        assert_eq!(authorizer_principal(&extensions), None);

        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer
            .fields
            .insert("principal".into(), serde_json::json!("operator"));
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.authorizer = Some(authorizer);
        extensions.insert(RequestContext::ApiGatewayV2(context));

        assert_eq!(authorizer_principal(&extensions), Some("operator"));
    }
}
