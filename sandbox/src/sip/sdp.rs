//! The one change the sandbox makes to the session descriptions it relays between two
//! browsers, because two unmodified Plivo SDKs cannot connect without it
//! (`reference/calls.md`, "First attempt failed: 488"):
//!
//! - the SDK's codec preference rewrites each `m=` line's payload types (to `111 0`, say)
//!   but leaves the `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` lines of the payload types it took
//!   off (`a=fmtp:63 111/111` for RED). Chromium's `setRemoteDescription` refuses such an
//!   offer ("Failed to parse codecs correctly") and the callee answers 488. Against the
//!   platform this never shows: its media servers end each call leg. Those orphan lines are
//!   dropped, per media section;
//! - the SDK appends `;maxaveragebitrate=48000` to the remote description's Opus line too,
//!   so after two SDKs it is there twice: a repeated `a=fmtp` parameter keeps its first value.
//!
//! Nothing else changes: lines are kept in order, with their own line ends.

/// The session description `sdp` with the lines of payload types its media sections do not
/// carry taken out, and each `a=fmtp` parameter once.
pub fn sanitize(sdp: &str) -> String {
    let mut out = String::with_capacity(sdp.len());
    // The payload types of the media section the lines belong to (`None` before the first).
    let mut formats: Option<Vec<&str>> = None;
    for line in sdp.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        if let Some(media) = content.strip_prefix("m=") {
            // m=<media> <port> <proto> <fmt> ...
            formats = Some(media.split(' ').skip(3).filter(|f| !f.is_empty()).collect());
        } else if let (Some(formats), Some((attribute, payload))) =
            (&formats, payload_line(content))
        {
            if payload != "*" && !formats.contains(&payload) {
                continue;
            }
            if attribute == "fmtp" {
                out.push_str(&once_each(content));
                out.push_str(ending);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// `("rtpmap" | "fmtp" | "rtcp-fb", payload type)` of a line that names one.
fn payload_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("a=")?;
    let (attribute, value) = rest.split_once(':')?;
    if !matches!(attribute, "rtpmap" | "fmtp" | "rtcp-fb") {
        return None;
    }
    let payload = value.split(' ').next()?;
    Some((attribute, payload))
}

/// An `a=fmtp:<pt> k=v;k=v` line with each parameter's first value only.
fn once_each(line: &str) -> String {
    let Some((head, parameters)) = line.split_once(' ') else {
        return line.to_owned();
    };
    let mut seen: Vec<&str> = Vec::new();
    let kept: Vec<&str> = parameters
        .split(';')
        .filter(|parameter| {
            let key = parameter.split('=').next().unwrap_or_default().trim();
            if key.is_empty() || !seen.contains(&key) {
                seen.push(key);
                true
            } else {
                false
            }
        })
        .collect();
    format!("{head} {}", kept.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An offer as the SDK makes it after its codec preference (abridged).
    const OFFER: &str = "v=0\r\n\
o=- 1 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1;maxaveragebitrate=48000;maxaveragebitrate=48000\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=rtcp-fb:* nack\r\n\
a=ssrc:1 cname:x\r\n";

    #[test]
    fn orphan_codec_lines_go_and_the_rest_stays_in_order() {
        let clean = sanitize(OFFER);
        assert!(
            !clean.contains("a=rtpmap:63") && !clean.contains("a=fmtp:63"),
            "{clean}"
        );
        assert!(!clean.contains("a=rtpmap:126"), "not on the m= line");
        for kept in [
            "a=rtpmap:111 opus/48000/2\r\n",
            "a=rtcp-fb:111 transport-cc\r\n",
            "a=rtpmap:0 PCMU/8000\r\n",
            "a=rtcp-fb:* nack\r\n",
            "a=ssrc:1 cname:x\r\n",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n",
        ] {
            assert!(clean.contains(kept), "{kept}");
        }
        assert!(
            clean.contains("a=fmtp:111 minptime=10;useinbandfec=1;maxaveragebitrate=48000\r\n"),
            "{clean}"
        );
        assert_eq!(
            sanitize(&clean),
            clean,
            "a clean description is left as it is"
        );
    }

    #[test]
    fn each_media_section_keeps_its_own_payload_types() {
        let two = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 x/1\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(
            sanitize(two),
            "v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 9 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
        );
    }

    #[test]
    fn session_lines_and_odd_input_pass_unharmed() {
        for text in [
            "",
            "v=0",
            "a=fmtp:1 x\r\n",
            "m=\r\na=rtpmap:\r\n",
            "m=audio\na=fmtp:111\n",
            "é=ü\n",
        ] {
            let _ = sanitize(text);
        }
        assert_eq!(
            sanitize("a=fmtp:1 x\r\n"),
            "a=fmtp:1 x\r\n",
            "before any m= line"
        );
        assert_eq!(
            sanitize("m=audio 9 RTP/AVP 1\na=fmtp:1 a=1;a=2\n"),
            "m=audio 9 RTP/AVP 1\na=fmtp:1 a=1\n"
        );
    }
}
