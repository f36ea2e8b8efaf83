//! Hand-offs: for each service, a ready command to look at it with the official tool
//! (`gcloud`, `kubectl`, `redis-cli`, `curl`, `psql`, `mysql`) and its Cloud Console URL, for
//! the engineer to paste into a shell or a browser or an incident channel. Pure: built from
//! the estate alone.
//!
//! Secrets never appear: a password written in an estate URL is dropped, and a password the
//! estate reads from the environment is referred to by its variable (`REDISCLI_AUTH="$VAR"`),
//! never by its value.

use serde::Serialize;

use crate::estate::{Service, Target, WorkloadKind};

const CONSOLE: &str = "https://console.cloud.google.com";

/// What to copy for one service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Handoff {
    /// A shell command that shows the service with its own tool.
    pub command: Option<String>,
    /// The service's page in the Cloud Console (or its own management UI).
    pub console_url: Option<String>,
}

/// The hand-off for one service of the estate.
pub fn for_service(svc: &Service) -> Handoff {
    match &svc.target {
        Target::CloudRun {
            project,
            location,
            service,
        } => Handoff {
            command: Some(format!(
                "gcloud run services describe {} --region {} --project {}",
                quote(service),
                quote(location),
                quote(project)
            )),
            console_url: Some(format!(
                "{CONSOLE}/run/detail/{location}/{service}/revisions?project={project}"
            )),
        },
        Target::CloudSql { project, instance } => Handoff {
            command: Some(format!(
                "gcloud sql instances describe {} --project {} && gcloud sql operations list --instance {} --project {} --limit 5",
                quote(instance),
                quote(project),
                quote(instance),
                quote(project)
            )),
            console_url: Some(format!(
                "{CONSOLE}/sql/instances/{instance}/overview?project={project}"
            )),
        },
        Target::CloudTasks {
            project,
            location,
            queue,
            ..
        } => Handoff {
            command: Some(format!(
                "gcloud tasks queues describe {} --location {} --project {}",
                quote(queue),
                quote(location),
                quote(project)
            )),
            console_url: Some(format!(
                "{CONSOLE}/cloudtasks/queue/{location}/{queue}/tasks?project={project}"
            )),
        },
        Target::Memorystore {
            project,
            location,
            instance,
        } => Handoff {
            command: Some(format!(
                "gcloud redis instances describe {} --region {} --project {}",
                quote(instance),
                quote(location),
                quote(project)
            )),
            console_url: Some(format!(
                "{CONSOLE}/memorystore/redis/locations/{location}/instances/{instance}/details/overview?project={project}"
            )),
        },
        Target::PubsubSubscription {
            project,
            subscription,
            ..
        } => Handoff {
            command: Some(format!(
                "gcloud pubsub subscriptions describe {} --project {}",
                quote(subscription),
                quote(project)
            )),
            console_url: Some(format!(
                "{CONSOLE}/cloudpubsub/subscription/detail/{subscription}?project={project}"
            )),
        },
        Target::GcpRest { url, .. } => Handoff {
            command: Some(format!(
                "curl -sS -H \"Authorization: Bearer $(gcloud auth print-access-token)\" {}",
                quote(&without_password(url))
            )),
            console_url: None,
        },
        Target::K8sWorkload {
            context,
            namespace,
            workload,
            name,
        } => {
            let ctx = context
                .as_deref()
                .map_or_else(String::new, |c| format!("--context {} ", quote(c)));
            Handoff {
                command: Some(format!(
                    "kubectl {ctx}-n {} describe {}/{}",
                    quote(namespace),
                    workload.as_str(),
                    quote(name)
                )),
                console_url: context
                    .as_deref()
                    .and_then(|c| gke_console(c, *workload, namespace, name)),
            }
        }
        Target::Redis {
            url,
            password_env,
            sentinel_master,
        } => {
            let verb = match sentinel_master {
                Some(m) => format!("SENTINEL get-master-addr-by-name {}", quote(m)),
                None => "INFO replication".to_string(),
            };
            Handoff {
                command: Some(format!(
                    "{}redis-cli -u {} {verb}",
                    env_prefix("REDISCLI_AUTH", password_env.as_deref()),
                    quote(&without_password(url))
                )),
                console_url: None,
            }
        }
        Target::RedisQueue {
            url,
            password_env,
            queue,
            ..
        } => Handoff {
            command: Some(format!(
                "{}redis-cli -u {} LLEN {}",
                env_prefix("REDISCLI_AUTH", password_env.as_deref()),
                quote(&without_password(url)),
                quote(queue)
            )),
            console_url: None,
        },
        Target::RabbitmqQueue {
            url,
            vhost,
            queue,
            user,
            password_env,
            ..
        } => {
            let base = without_password(url);
            let base = base.trim_end_matches('/');
            let vhost_enc = vhost.replace('%', "%25").replace('/', "%2F");
            let auth = match (user, password_env) {
                (Some(u), Some(env)) => format!("-u {}:\"${env}\" ", quote(u)),
                (Some(u), None) => format!("-u {} ", quote(u)),
                (None, _) => String::new(),
            };
            Handoff {
                command: Some(format!(
                    "curl -sS {auth}{}",
                    quote(&format!("{base}/api/queues/{vhost_enc}/{queue}"))
                )),
                console_url: Some(format!("{base}/#/queues/{vhost_enc}/{queue}")),
            }
        }
        Target::Postgres { url, password_env } => Handoff {
            command: Some(format!(
                "{}psql {} -c 'select 1'",
                env_prefix("PGPASSWORD", password_env.as_deref()),
                quote(&without_password(url))
            )),
            console_url: None,
        },
        Target::Mysql { url, password_env } => Handoff {
            command: Some(format!(
                "{}mysql --host {} -e 'select 1'",
                env_prefix("MYSQL_PWD", password_env.as_deref()),
                quote(&host_of(url))
            )),
            console_url: None,
        },
        Target::Http { url, .. } => Handoff {
            command: Some(format!("curl -sS -i {}", quote(&without_password(url)))),
            console_url: None,
        },
        Target::Prometheus { url, metric, .. } => Handoff {
            command: Some(format!(
                "curl -sS {} | grep {}",
                quote(&without_password(url)),
                quote(metric)
            )),
            console_url: None,
        },
        Target::Promql { url, query, .. } => {
            let base = without_password(url);
            let base = base.trim_end_matches('/');
            Handoff {
                command: Some(format!(
                    "curl -sS -G {} --data-urlencode {}",
                    quote(&format!("{base}/api/v1/query")),
                    quote(&format!("query={query}"))
                )),
                console_url: None,
            }
        }
    }
}

/// `NAME="$VAR" ` when the estate reads the password from `$VAR`.
fn env_prefix(name: &str, env: Option<&str>) -> String {
    env.map_or_else(String::new, |v| format!("{name}=\"${v}\" "))
}

/// The URL with any password (and the user's `:` before it) removed: `redis://:pw@h` →
/// `redis://h`, `amqp://u:pw@h` → `amqp://u@h`.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
    if user.is_empty() {
        format!("{scheme}://{host}{tail}")
    } else {
        format!("{scheme}://{user}@{host}{tail}")
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':').next().unwrap_or(host).to_string()
}

/// A GKE workload page, when the context is gcloud's `gke_{project}_{location}_{cluster}`.
fn gke_console(context: &str, kind: WorkloadKind, namespace: &str, name: &str) -> Option<String> {
    let rest = context.strip_prefix("gke_")?;
    let mut parts = rest.splitn(3, '_');
    let (project, location, cluster) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!(
        "{CONSOLE}/kubernetes/{}/{location}/{cluster}/{namespace}/{name}/overview?project={project}",
        kind.as_str()
    ))
}

/// Single-quotes a word for a POSIX shell when it holds anything but safe characters.
fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estate::Estate;

    fn estate(services: &str) -> Estate {
        let text = format!(
            "name = \"t\"\nenvironment = \"prod\"\n[gcp]\nproject = \"tappass-prod\"\n[[region]]\nid = \"eu\"\ngcp_region = \"europe-west1\"\nkube_context = \"gke_tappass-prod_europe-west1_workers\"\n{services}"
        );
        crate::estate::from_str_with_env(&text, "<test>", &|_| Some("hunter2-secret".into()))
            .map(|(e, _)| e)
            .expect("estate")
    }

    fn handoff(services: &str) -> Handoff {
        for_service(&estate(services).services[0])
    }

    #[test]
    fn google_services_get_gcloud_and_the_console() {
        let h = handoff(
            "[[service]]\nid = \"api\"\nkind = \"cloud_run\"\nregion = \"eu\"\nservice = \"tappass\"\nsev = 1\n",
        );
        assert_eq!(
            h.command.as_deref(),
            Some(
                "gcloud run services describe tappass --region europe-west1 --project tappass-prod"
            )
        );
        assert_eq!(
            h.console_url.as_deref(),
            Some(
                "https://console.cloud.google.com/run/detail/europe-west1/tappass/revisions?project=tappass-prod"
            )
        );
        let h = handoff(
            "[[service]]\nid = \"sql\"\nkind = \"cloud_sql\"\nregion = \"eu\"\ninstance = \"tappass-db\"\nsev = 1\n",
        );
        assert!(
            h.command.as_deref().is_some_and(|c| c
                .starts_with("gcloud sql instances describe tappass-db --project tappass-prod")),
            "{h:?}"
        );
    }

    #[test]
    fn workloads_get_kubectl_with_their_context_and_gke_page() {
        let h = handoff(
            "[[service]]\nid = \"w\"\nkind = \"k8s_workload\"\nregion = \"eu\"\nnamespace = \"jobs\"\nworkload = \"deployment/workers\"\nsev = 2\n",
        );
        assert_eq!(
            h.command.as_deref(),
            Some(
                "kubectl --context gke_tappass-prod_europe-west1_workers -n jobs describe deployment/workers"
            )
        );
        assert_eq!(
            h.console_url.as_deref(),
            Some(
                "https://console.cloud.google.com/kubernetes/deployment/europe-west1/workers/jobs/workers/overview?project=tappass-prod"
            )
        );
    }

    #[test]
    fn passwords_never_reach_a_command() {
        let cases = [
            "[[service]]\nid = \"r\"\nkind = \"redis\"\nurl = \"redis://:pw-in-url-123@10.0.0.1:6379\"\nsev = 2\n",
            "[[service]]\nid = \"r\"\nkind = \"redis\"\nurl = \"redis://10.0.0.1:6379\"\npassword_env = \"REDIS_PASSWORD\"\nsev = 2\n",
            "[[service]]\nid = \"q\"\nkind = \"redis_queue\"\nurl = \"rediss://default:pw-in-url-123@10.0.0.1:6380/0\"\nqueue = \"celery\"\nformat = \"celery\"\nsev = 3\n",
            "[[service]]\nid = \"m\"\nkind = \"rabbitmq_queue\"\nurl = \"http://10.0.0.2:15672\"\nvhost = \"/\"\nqueue = \"webhooks\"\nuser = \"opsdeck\"\npassword_env = \"RABBIT_PASSWORD\"\nsev = 3\n",
            "[[service]]\nid = \"p\"\nkind = \"postgres\"\nurl = \"postgres://app:pw-in-url-123@10.0.0.3:5432/app\"\nsev = 1\n",
            "[[service]]\nid = \"p\"\nkind = \"postgres\"\nurl = \"postgres://app@10.0.0.3:5432/app\"\npassword_env = \"PG_PASSWORD\"\nsev = 1\n",
            "[[service]]\nid = \"y\"\nkind = \"mysql\"\nurl = \"mysql://app:pw-in-url-123@10.0.0.4:3306/app\"\nsev = 1\n",
            "[[service]]\nid = \"h\"\nkind = \"http\"\nurl = \"https://admin:pw-in-url-123@example.com/health\"\nsev = 3\n",
        ];
        for case in cases {
            let h = handoff(case);
            let command = h.command.clone().unwrap_or_default();
            assert!(!command.is_empty(), "{case}");
            for secret in ["pw-in-url-123", "hunter2-secret"] {
                assert!(!command.contains(secret), "{command}");
                assert!(
                    !h.console_url.as_deref().unwrap_or("").contains(secret),
                    "{h:?}"
                );
            }
        }
        assert_eq!(
            handoff(cases[1]).command.as_deref(),
            Some(
                "REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli -u redis://10.0.0.1:6379 INFO replication"
            )
        );
        assert_eq!(
            handoff(cases[0]).command.as_deref(),
            Some("redis-cli -u redis://10.0.0.1:6379 INFO replication")
        );
    }

    #[test]
    fn urls_lose_only_their_password() {
        assert_eq!(without_password("redis://:pw@h:1/0"), "redis://h:1/0");
        assert_eq!(without_password("amqp://u:pw@h/v"), "amqp://u@h/v");
        assert_eq!(without_password("http://h/a@b"), "http://h/a@b");
        assert_eq!(without_password("plain"), "plain");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
