use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

fn config(admin_listen: bool, token: bool) -> Config {
    let mut text = String::from(
        "[[channels]]\nname = \"a\"\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:1/v1\"\n\
         keys = [\"sk-a\"]\nmodels = [\"m\"]\n[[tokens]]\nkey = \"sk-client\"\n",
    );
    if admin_listen {
        text.insert_str(0, "admin_listen = \"127.0.0.1:9090\"\n");
    }
    if token {
        text.insert_str(0, "admin_token = \"admin-token-123\"\n");
    }
    Config::parse(&text).unwrap()
}

#[test]
fn placement_follows_admin_listen_and_admin_token() {
    use Listener::{Admin, Public};
    for token in [false, true] {
        assert_eq!(placement(&config(true, token), Admin), Placement::Here);
        assert_eq!(
            placement(&config(true, token), Public),
            Placement::AdminListenerOnly
        );
    }
    assert_eq!(placement(&config(false, true), Public), Placement::Here);
    assert_eq!(placement(&config(false, false), Public), Placement::Off);
}

#[test]
fn the_token_is_needed_from_every_peer_once_set() {
    let token = Secret::new("admin-token-123");
    let uri = Uri::from_static("/api/channels");
    let local = headers(&[("host", "127.0.0.1:9090")]);
    for listener in [Listener::Public, Listener::Admin] {
        assert!(!authorized(listener, &uri, &local, Some(&token)));
        for wrong in [
            "Bearer admin-token-12",
            "Bearer admin-token-1234",
            "admin-token-123",
            "Basic admin-token-123",
        ] {
            let h = headers(&[("authorization", wrong)]);
            assert!(!authorized(listener, &uri, &h, Some(&token)), "{wrong}");
        }
        for right in ["Bearer admin-token-123", "bearer admin-token-123"] {
            let h = headers(&[("authorization", right)]);
            assert!(authorized(listener, &uri, &h, Some(&token)), "{right}");
        }
    }
}

#[test]
fn without_a_token_only_the_admin_listener_by_address_serves() {
    let uri = Uri::from_static("/api/channels");
    for host in [
        "127.0.0.1:9090",
        "[::1]:9090",
        "localhost:9090",
        "10.0.0.5:9090",
        "127.0.0.1",
    ] {
        let h = headers(&[("host", host)]);
        assert!(authorized(Listener::Admin, &uri, &h, None), "{host}");
        assert!(!authorized(Listener::Public, &uri, &h, None), "{host}");
    }
    for host in [
        "evil.example:9090",
        "localhost.evil.example",
        "127.0.0.1.nip.io:9090",
    ] {
        let h = headers(&[("host", host)]);
        assert!(!authorized(Listener::Admin, &uri, &h, None), "{host}");
    }
    // HTTP/2: the authority is in the URI.
    let h2 = Uri::from_static("http://127.0.0.1:9090/api/channels");
    assert!(authorized(Listener::Admin, &h2, &HeaderMap::new(), None));
    assert!(!authorized(Listener::Admin, &uri, &HeaderMap::new(), None));
}

#[test]
fn browser_made_requests_are_recognised() {
    let uri = Uri::from_static("/api/channels/a/disable");
    let own = ("host", "127.0.0.1:9090");
    for refused in [
        vec![("content-type", "text/plain;charset=UTF-8")],
        vec![("content-type", "Application/X-WWW-Form-Urlencoded")],
        vec![("content-type", "multipart/form-data; boundary=x")],
        vec![own, ("origin", "https://evil.example")],
        vec![own, ("origin", "null")],
        vec![own, ("origin", "http://127.0.0.1:9091")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        assert!(
            browser_made(&uri, &headers(&refused)).is_some(),
            "{refused:?}"
        );
    }
    for allowed in [
        vec![],
        vec![("content-type", "application/json")],
        vec![
            own,
            ("origin", "http://127.0.0.1:9090"),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![own, ("sec-fetch-site", "none")],
    ] {
        assert_eq!(browser_made(&uri, &headers(&allowed)), None, "{allowed:?}");
    }
    assert!(changes_state(&Method::DELETE) && !changes_state(&Method::GET));
}

#[test]
fn not_here_messages_name_the_keys() {
    let uri = Uri::from_static("/metrics");
    let off = not_here(Placement::Off, &uri).to_string();
    assert!(
        off.contains("admin_token") && off.contains("admin_listen"),
        "{off}"
    );
    let elsewhere = not_here(Placement::AdminListenerOnly, &uri).to_string();
    assert!(elsewhere.contains("admin listener"), "{elsewhere}");
}
