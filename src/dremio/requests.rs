//! The Dremio REST requests chainlake sends, as values (method, path, JSON body), built apart
//! from any I/O so that unit tests check them against the shapes Dremio documents:
//! `PUT /apiv2/bootstrap/firstuser`, `POST /apiv2/login` (then `Authorization: _dremio<token>`),
//! `GET /api/v3/catalog/by-path/…`, `POST /api/v3/catalog` (sources), `POST
//! /api/v3/catalog/{id}` (promote a folder to a Delta dataset), `POST /api/v3/sql`.

use serde_json::{json, Value};

/// An HTTP method Dremio's API uses here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
}

/// One request. `Debug` shows method and path only: bodies carry passwords and S3 secrets.
#[derive(Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    /// Path and query, from the server root (`/api/v3/…`).
    pub path: String,
    pub body: Option<Value>,
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {}", self.method, self.path)
    }
}

/// The S3 credentials and endpoint Dremio reads the lake with.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Access {
    /// `host:port` as Dremio reaches it (e.g. `minio:9000`).
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    /// The endpoint speaks HTTPS.
    pub secure: bool,
}

fn s3_properties(s3: &S3Access) -> Value {
    json!([
        {"name": "fs.s3a.endpoint", "value": s3.endpoint},
        {"name": "fs.s3a.path.style.access", "value": "true"},
        {"name": "dremio.s3.compat", "value": "true"},
    ])
}

pub fn first_user(user: &str, password: &str, created_at_ms: u64) -> ApiRequest {
    ApiRequest {
        method: Method::Put,
        path: "/apiv2/bootstrap/firstuser".into(),
        body: Some(json!({
            "userName": user,
            "firstName": "chainlake",
            "lastName": "admin",
            "email": format!("{user}@chainlake.invalid"),
            "createdAt": created_at_ms,
            "password": password,
        })),
    }
}

pub fn login(user: &str, password: &str) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: "/apiv2/login".into(),
        body: Some(json!({"userName": user, "password": password})),
    }
}

/// The `Authorization` header value of a login token.
pub fn authorization(token: &str) -> String {
    format!("_dremio{token}")
}

/// `GET /api/v3/catalog/by-path/a/b/c`, each segment percent-encoded.
pub fn by_path(path: &[String]) -> ApiRequest {
    let segments: Vec<String> = path.iter().map(|s| encode(s)).collect();
    ApiRequest {
        method: Method::Get,
        path: format!("/api/v3/catalog/by-path/{}", segments.join("/")),
        body: None,
    }
}

/// The S3 source over the lake's bucket (`compatibilityMode` for MinIO and other S3 servers).
pub fn s3_source(name: &str, bucket: &str, s3: &S3Access) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: "/api/v3/catalog".into(),
        body: Some(json!({
            "entityType": "source",
            "name": name,
            "type": "S3",
            "config": {
                "credentialType": "ACCESS_KEY",
                "accessKey": s3.access_key,
                "accessSecret": s3.secret_key,
                "secure": s3.secure,
                "compatibilityMode": true,
                "rootPath": "/",
                "whitelistedBuckets": [bucket],
                "propertyList": s3_properties(s3),
            },
        })),
    }
}

/// The Nessie source (Iceberg tables only; chainlake's Delta tables are reached through the
/// S3 source), warehouse under `bucket/nessie`.
pub fn nessie_source(name: &str, endpoint: &str, bucket: &str, s3: &S3Access) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: "/api/v3/catalog".into(),
        body: Some(json!({
            "entityType": "source",
            "name": name,
            "type": "NESSIE",
            "config": {
                "nessieEndpoint": endpoint,
                "nessieAuthType": "NONE",
                "storageProvider": "AWS",
                "awsRootPath": format!("{bucket}/nessie"),
                "credentialType": "ACCESS_KEY",
                "awsAccessKey": s3.access_key,
                "awsAccessSecret": s3.secret_key,
                "secure": s3.secure,
                "propertyList": s3_properties(s3),
            },
        })),
    }
}

/// Promotes the folder `id` (at `path`) to a Delta dataset.
pub fn promote_delta(id: &str, path: &[String]) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: format!("/api/v3/catalog/{}", encode(id)),
        body: Some(json!({
            "entityType": "dataset",
            "type": "PHYSICAL_DATASET",
            "path": path,
            "format": {"type": "Delta"},
        })),
    }
}

/// `ALTER TABLE "a"."b"."c" REFRESH METADATA` through the SQL API.
pub fn refresh_metadata(path: &[String]) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: "/api/v3/sql".into(),
        body: Some(json!({"sql": format!("ALTER TABLE {} REFRESH METADATA", quoted(path))})),
    }
}

/// A dotted SQL identifier, each part in double quotes (quotes inside doubled).
pub fn quoted(path: &[String]) -> String {
    path.iter().map(|p| format!("\"{}\"", p.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Dremio's path of a table of the lake: the source, the bucket, the folders of the lake's
/// prefix, then chain/layer/table (where `Lake::table_url` puts it).
pub fn table_path(
    source: &str,
    bucket: &str,
    prefix: &str,
    chain: &str,
    layer: &str,
    table: &str,
) -> Vec<String> {
    let mut path = vec![source.to_owned(), bucket.to_owned()];
    path.extend(prefix.split('/').filter(|s| !s.is_empty()).map(str::to_owned));
    path.extend([chain.to_owned(), layer.to_owned(), table.to_owned()]);
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> S3Access {
        S3Access {
            endpoint: "minio:9000".into(),
            access_key: "ak".into(),
            secret_key: "sk".into(),
            secure: false,
        }
    }

    #[test]
    fn bootstrap_login_and_authorization_have_dremios_shapes() {
        let r = first_user("admin", "pw", 1_700_000_000_000);
        assert_eq!((r.method, r.path.as_str()), (Method::Put, "/apiv2/bootstrap/firstuser"));
        let b = r.body.unwrap();
        for field in ["userName", "firstName", "lastName", "email", "createdAt", "password"] {
            assert!(b.get(field).is_some(), "firstuser needs {field}");
        }
        let r = login("admin", "pw");
        assert_eq!((r.method, r.path.as_str()), (Method::Post, "/apiv2/login"));
        assert_eq!(r.body.unwrap(), json!({"userName": "admin", "password": "pw"}));
        assert_eq!(authorization("abc"), "_dremioabc");
    }

    #[test]
    fn the_s3_source_is_compatible_path_style_and_limited_to_the_bucket() {
        let b = s3_source("chainlake", "lake-bucket", &s3()).body.unwrap();
        assert_eq!(b["entityType"], "source");
        assert_eq!(b["type"], "S3");
        assert_eq!(b["config"]["compatibilityMode"], true);
        assert_eq!(b["config"]["secure"], false);
        assert_eq!(b["config"]["whitelistedBuckets"], json!(["lake-bucket"]));
        let props = b["config"]["propertyList"].as_array().unwrap();
        let prop = |n: &str| props.iter().find(|p| p["name"] == n).map(|p| p["value"].clone());
        assert_eq!(prop("fs.s3a.endpoint"), Some(json!("minio:9000")));
        assert_eq!(prop("fs.s3a.path.style.access"), Some(json!("true")));
    }

    #[test]
    fn the_nessie_source_has_no_auth_and_s3_compat() {
        let b = nessie_source("nessie", "http://nessie:19120/api/v2", "lake-bucket", &s3()).body.unwrap();
        assert_eq!(b["type"], "NESSIE");
        assert_eq!(b["config"]["nessieEndpoint"], "http://nessie:19120/api/v2");
        assert_eq!(b["config"]["nessieAuthType"], "NONE");
        assert_eq!(b["config"]["awsRootPath"], "lake-bucket/nessie");
        let props = b["config"]["propertyList"].as_array().unwrap();
        assert!(props.iter().any(|p| p["name"] == "dremio.s3.compat" && p["value"] == "true"));
    }

    #[test]
    fn promoting_encodes_the_folder_id_and_names_the_delta_format() {
        let path = table_path("chainlake", "lake-bucket", "lake/", "ethereum", "gold", "gas_daily");
        assert_eq!(path, ["chainlake", "lake-bucket", "lake", "ethereum", "gold", "gas_daily"]);
        let r = promote_delta("dremio:/chainlake/lake-bucket/lake/ethereum/gold/gas_daily", &path);
        assert_eq!(
            r.path,
            "/api/v3/catalog/dremio%3A%2Fchainlake%2Flake-bucket%2Flake%2Fethereum%2Fgold%2Fgas_daily"
        );
        assert_eq!(
            r.body.unwrap(),
            json!({"entityType": "dataset", "type": "PHYSICAL_DATASET", "path": path, "format": {"type": "Delta"}})
        );
        assert_eq!(
            by_path(&path).path,
            "/api/v3/catalog/by-path/chainlake/lake-bucket/lake/ethereum/gold/gas_daily"
        );
        assert_eq!(by_path(&["a b".into()]).path, "/api/v3/catalog/by-path/a%20b");
    }

    #[test]
    fn refresh_quotes_every_part_of_the_path() {
        let r = refresh_metadata(&["chainlake".into(), "b".into(), "we\"ird".into()]);
        assert_eq!((r.method, r.path.as_str()), (Method::Post, "/api/v3/sql"));
        assert_eq!(
            r.body.unwrap(),
            json!({"sql": "ALTER TABLE \"chainlake\".\"b\".\"we\"\"ird\" REFRESH METADATA"})
        );
    }

    #[test]
    fn debug_shows_no_body() {
        let shown = format!("{:?}", login("admin", "hunter2"));
        assert_eq!(shown, "Post /apiv2/login");
    }
}
