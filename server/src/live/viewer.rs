//! A viewer's endless body: the init segment, the ring from its keyframe,
//! then each fragment as the publisher sends it, until the stream ends or
//! the viewer is cut for being behind.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::stream::ViewerFeed;

/// The fragments of one viewer, as a body stream.
#[derive(Debug)]
pub struct ViewerBody(pub ViewerFeed);

impl futures_util::Stream for ViewerBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let feed = &mut self.get_mut().0;
        match feed.receiver.poll_recv(cx) {
            Poll::Ready(Some(bytes)) => {
                feed.queued.fetch_sub(bytes.len(), Ordering::AcqRel);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
