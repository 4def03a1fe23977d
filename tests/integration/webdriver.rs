//! A minimal W3C WebDriver client for the dispatch board's browser tests.
//!
//! Talks plain HTTP to a chromedriver (`scripts/browser.sh driver-start PORT`)
//! and drives one headless Debian Chromium per [`Session`]. Elements are the
//! driver's opaque element ids (strings); pass one to [`Session::execute`] as
//! `Session::element_arg(&id)`.
//!
//! Quit every session ([`Session::quit`]) or its browser lives on until
//! `scripts/browser.sh driver-stop`.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use reqwest::Method;
use serde_json::{json, Value};

/// The W3C key of a web element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const POLL: Duration = Duration::from_millis(100);

pub struct WebDriver;

impl WebDriver {
    /// A new headless Chromium session on the chromedriver at `driver_url`
    /// (e.g. `http://127.0.0.1:9515`). Its console is kept for
    /// [`Session::browser_log`].
    pub async fn start(driver_url: &str) -> Result<Session> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .context("building the WebDriver HTTP client")?;
        let driver = driver_url.trim_end_matches('/').to_string();
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--ignore-certificate-errors",
                    "--window-size=1400,1000",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            },
        }}});
        let value = call(&client, Method::POST, &format!("{driver}/session"), Some(&capabilities))
            .await
            .with_context(|| format!("starting a Chromium session on {driver}"))?;
        let id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("new session answer without a sessionId: {value}"))?
            .to_string();
        Ok(Session {
            client,
            base: format!("{driver}/session/{id}"),
            id,
        })
    }
}

pub struct Session {
    client: reqwest::Client,
    base: String,
    id: String,
}

impl Session {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// An element id as an argument of [`Session::execute`] (arrives in the
    /// script as the DOM element).
    pub fn element_arg(elem: &str) -> Value {
        json!({ ELEMENT_KEY: elem })
    }

    async fn cmd(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        call(&self.client, method, &format!("{}{path}", self.base), body).await
    }

    /// Loads `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.cmd(Method::POST, "/url", Some(&json!({ "url": url }))).await?;
        Ok(())
    }

    /// The first element matching the CSS selector; an error if none does.
    pub async fn find(&self, css: &str) -> Result<String> {
        let value = self.cmd(Method::POST, "/element", Some(&locator(css))).await?;
        element_id(&value)
    }

    /// Every element matching the CSS selector, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<String>> {
        let value = self.cmd(Method::POST, "/elements", Some(&locator(css))).await?;
        value
            .as_array()
            .ok_or_else(|| anyhow!("find elements answered {value}"))?
            .iter()
            .map(element_id)
            .collect()
    }

    pub async fn click(&self, elem: &str) -> Result<()> {
        // chromedriver wants a JSON body even here.
        self.cmd(Method::POST, &format!("/element/{elem}/click"), Some(&json!({})))
            .await?;
        Ok(())
    }

    /// Types `text` into the element (appends to what it holds; "\u{E007}"
    /// is Enter, "\u{E004}" Tab).
    pub async fn send_keys(&self, elem: &str, text: &str) -> Result<()> {
        self.cmd(
            Method::POST,
            &format!("/element/{elem}/value"),
            Some(&json!({ "text": text })),
        )
        .await?;
        Ok(())
    }

    /// The element's rendered text (what a user sees, lines joined by "\n").
    pub async fn text(&self, elem: &str) -> Result<String> {
        let value = self.cmd(Method::GET, &format!("/element/{elem}/text"), None).await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The element's attribute (or property of that name), None when absent.
    pub async fn attribute(&self, elem: &str, name: &str) -> Result<Option<String>> {
        let value = self
            .cmd(Method::GET, &format!("/element/{elem}/attribute/{name}"), None)
            .await?;
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        })
    }

    /// Runs `script` as a function body (use `return`; `arguments[i]` are
    /// `args`) and gives back its JSON result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.cmd(
            Method::POST,
            "/execute/sync",
            Some(&json!({ "script": script, "args": args })),
        )
        .await
        .with_context(|| format!("executing script: {}", first_line(script)))
    }

    /// Polls every 100 ms until an element matches `css`; its id.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(first) = self.find_all(css).await?.into_iter().next() {
                return Ok(first);
            }
            if Instant::now() >= deadline {
                bail!("no element matched {css:?} within {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls every 100 ms until the JavaScript expression is truthy. A script
    /// error fails at once rather than at the timeout.
    pub async fn wait_until(&self, js_expression: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let script = format!("return !!({js_expression});");
        loop {
            if self.execute(&script, Vec::new()).await? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("{js_expression:?} was not true within {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let value = self.cmd(Method::GET, "/screenshot", None).await?;
        let text = value.as_str().ok_or_else(|| anyhow!("screenshot answered {value}"))?;
        let png = base64_decode(text).context("decoding the screenshot")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// The browser console since the last call (chromedriver's log, each entry
    /// {"level","message","source","timestamp"}). JavaScript errors and CSP
    /// violations are level "SEVERE"; failed HTTP answers (a 401 or 409 the
    /// page expects) are also SEVERE but with source "network".
    pub async fn browser_log(&self) -> Result<Vec<Value>> {
        let value = self
            .cmd(Method::POST, "/se/log", Some(&json!({ "type": "browser" })))
            .await?;
        Ok(value.as_array().cloned().unwrap_or_default())
    }

    /// Ends the session and closes its browser.
    pub async fn quit(self) -> Result<()> {
        self.cmd(Method::DELETE, "", None).await?;
        Ok(())
    }
}

fn locator(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

fn element_id(value: &Value) -> Result<String> {
    value
        .get(ELEMENT_KEY)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("not an element reference: {value}"))
}

fn first_line(text: &str) -> &str {
    let line = text.trim().lines().next().unwrap_or_default();
    line.get(..80).unwrap_or(line)
}

/// One WebDriver command: the answer's "value", or its error and message.
async fn call(client: &reqwest::Client, method: Method, url: &str, body: Option<&Value>) -> Result<Value> {
    let mut request = client.request(method.clone(), url);
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body)?);
    }
    let response = request.send().await.with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .with_context(|| format!("{method} {url}: reading the answer"))?;
    let mut answer: Value = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{method} {url}: {status}, not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    })?;
    let value = answer.get_mut("value").map(Value::take).unwrap_or(Value::Null);
    if !status.is_success() {
        let error = value.get("error").and_then(Value::as_str).unwrap_or("unknown error");
        let message = value.get("message").and_then(Value::as_str).unwrap_or_default();
        bail!("{method} {url}: {status}: {error}: {}", first_line(message));
    }
    Ok(value)
}

/// Standard base64 (with or without padding; line breaks ignored).
fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text.as_bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => bail!("not base64: byte {c:#04x}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}
