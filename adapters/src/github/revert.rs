//! Reverting a merged pull request: find it (by number, or as the pull request that merged
//! a commit), have GitHub open the revert with the GraphQL `revertPullRequest` mutation —
//! the same thing as the "Revert" button, so GitHub makes the branch and the commit — and
//! optionally turn on auto-merge for the new pull request.

use bot_core::actions::{Revert, RevertRequest, RevertTarget, VcsError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{GitHub, segment};

/// `revertPullRequest` as GitHub's schema defines it (`RevertPullRequestInput`,
/// `RevertPullRequestPayload`).
const REVERT_PULL_REQUEST: &str = "mutation RevertPullRequest($input: RevertPullRequestInput!) {
  revertPullRequest(input: $input) {
    clientMutationId
    pullRequest {
      id
      number
      url
      state
      merged
    }
    revertPullRequest {
      id
      number
      title
      url
      state
      isDraft
      headRefName
      baseRefName
    }
  }
}
";

/// `enablePullRequestAutoMerge` (`EnablePullRequestAutoMergeInput`); the merge method is
/// left to GitHub's default.
const ENABLE_AUTO_MERGE: &str =
    "mutation EnablePullRequestAutoMerge($input: EnablePullRequestAutoMergeInput!) {
  enablePullRequestAutoMerge(input: $input) {
    clientMutationId
    pullRequest {
      number
      autoMergeRequest {
        enabledAt
      }
    }
  }
}
";

pub(super) async fn revert(gh: &GitHub, req: &RevertRequest) -> Result<Revert, VcsError> {
    let repo = format!("{}/{}", req.owner, req.repo);
    let original = match &req.target {
        RevertTarget::PullRequest(number) => merged_pull_request(gh, req, *number).await?,
        RevertTarget::Commit(sha) => pull_request_of_commit(gh, req, sha).await?,
    };

    let reverts = format!("Reverts {repo}#{}", original.number);
    let body = match req.reason.trim() {
        "" => reverts,
        reason => format!("{reason}\n\n{reverts}"),
    };
    let input = RevertPullRequestInput {
        pull_request_id: &original.node_id,
        title: format!("Revert \"{}\"", original.title),
        body,
        draft: false,
        client_mutation_id: Some(req.client_mutation_id.as_str()).filter(|id| !id.is_empty()),
    };
    let what = format!("reverting pull request {repo}#{}", original.number);
    let data: RevertData = gh
        .graphql(REVERT_PULL_REQUEST, json!({ "input": input }), &what)
        .await?;
    let opened = data
        .revert_pull_request
        .and_then(|payload| payload.revert_pull_request)
        .ok_or_else(|| {
            VcsError::Refused(format!("GitHub opened no revert pull request ({what})"))
        })?;
    tracing::info!(
        repo = %repo,
        original = original.number,
        revert = opened.number,
        "revert pull request opened"
    );

    let auto_merge = req.auto_merge && enable_auto_merge(gh, req, &repo, &opened).await;
    Ok(Revert {
        original_number: original.number,
        original_url: original.html_url,
        number: opened.number,
        url: opened.url,
        auto_merge,
    })
}

/// `GET /repos/{owner}/{repo}/pulls/{pull_number}`; only a merged pull request can be
/// reverted.
async fn merged_pull_request(
    gh: &GitHub,
    req: &RevertRequest,
    number: u64,
) -> Result<PullRequest, VcsError> {
    let route = format!(
        "/repos/{}/{}/pulls/{number}",
        segment(&req.owner),
        segment(&req.repo)
    );
    let what = format!("pull request {}/{}#{number}", req.owner, req.repo);
    let pull: PullRequest = gh.get_json(&route, &what).await?;
    if !pull.is_merged() {
        return Err(VcsError::Refused(format!(
            "pull request #{number} is not merged; only merged pull requests can be reverted"
        )));
    }
    Ok(pull)
}

/// `GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls`: for a commit on the default
/// branch GitHub lists the pull request that merged it; elsewhere, every pull request
/// that contains it. The one whose merge commit this is wins, else the first merged one.
async fn pull_request_of_commit(
    gh: &GitHub,
    req: &RevertRequest,
    sha: &str,
) -> Result<PullRequest, VcsError> {
    if sha.is_empty() || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(VcsError::Refused(format!("`{sha}` is not a commit SHA")));
    }
    let route = format!(
        "/repos/{}/{}/commits/{sha}/pulls",
        segment(&req.owner),
        segment(&req.repo)
    );
    let what = format!(
        "pull requests of commit {sha} in {}/{}",
        req.owner, req.repo
    );
    let pulls: Vec<PullRequest> = gh.get_json(&route, &what).await?;
    let sha = sha.to_ascii_lowercase();
    let mut merged: Vec<PullRequest> = pulls.into_iter().filter(PullRequest::is_merged).collect();
    let merged_it = merged.iter().position(|p| {
        p.merge_commit_sha
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().starts_with(&sha))
    });
    match merged_it {
        Some(i) => Ok(merged.swap_remove(i)),
        None if !merged.is_empty() => Ok(merged.swap_remove(0)),
        None => Err(VcsError::NotFound(format!(
            "no merged pull request contains commit {sha} in {}/{}",
            req.owner, req.repo
        ))),
    }
}

/// Turns on auto-merge for the revert. The revert is open whatever happens here, so a
/// failure (auto-merge not allowed in the repository, no required checks, …) is logged
/// and reported as `auto_merge: false`, never as an error.
async fn enable_auto_merge(
    gh: &GitHub,
    req: &RevertRequest,
    repo: &str,
    opened: &OpenedPullRequest,
) -> bool {
    let input = EnablePullRequestAutoMergeInput {
        pull_request_id: &opened.id,
        client_mutation_id: Some(req.client_mutation_id.as_str()).filter(|id| !id.is_empty()),
    };
    let what = format!("enabling auto-merge on {repo}#{}", opened.number);
    match gh
        .graphql::<AutoMergeData>(ENABLE_AUTO_MERGE, json!({ "input": input }), &what)
        .await
    {
        Ok(data)
            if data
                .enable_pull_request_auto_merge
                .as_ref()
                .and_then(|p| p.pull_request.as_ref())
                .is_some_and(|p| p.auto_merge_request.is_some()) =>
        {
            true
        }
        Ok(_) => {
            tracing::warn!(
                repo,
                revert = opened.number,
                "GitHub did not enable auto-merge"
            );
            false
        }
        Err(error) => {
            tracing::warn!(repo, revert = opened.number, %error, "could not enable auto-merge");
            false
        }
    }
}

/// The fields of a pull request (REST `pull-request` or `pull-request-simple`) a revert
/// needs.
#[derive(Deserialize)]
struct PullRequest {
    number: u64,
    /// The GraphQL id that `revertPullRequest` takes.
    node_id: String,
    html_url: String,
    title: String,
    /// Only in the full `pull-request`; the list of a commit's pull requests has
    /// `merged_at` alone.
    merged: Option<bool>,
    merged_at: Option<String>,
    merge_commit_sha: Option<String>,
}

impl PullRequest {
    fn is_merged(&self) -> bool {
        self.merged.unwrap_or(self.merged_at.is_some())
    }
}

/// `RevertPullRequestInput`, every field GitHub's schema has.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RevertPullRequestInput<'a> {
    pull_request_id: &'a str,
    title: String,
    body: String,
    draft: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_mutation_id: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevertData {
    revert_pull_request: Option<RevertPayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevertPayload {
    /// The new pull request (the payload's `pullRequest` is the reverted one).
    revert_pull_request: Option<OpenedPullRequest>,
}

#[derive(Deserialize)]
struct OpenedPullRequest {
    id: String,
    number: u64,
    url: String,
}

/// `EnablePullRequestAutoMergeInput`, the fields Tocsin sets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnablePullRequestAutoMergeInput<'a> {
    pull_request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_mutation_id: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoMergeData {
    enable_pull_request_auto_merge: Option<AutoMergePayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoMergePayload {
    pull_request: Option<AutoMergePullRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AutoMergePullRequest {
    auto_merge_request: Option<serde_json::Value>,
}
