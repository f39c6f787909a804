//! Subscribers: subscribing, confirming, unsubscribing, and delivering notices.
