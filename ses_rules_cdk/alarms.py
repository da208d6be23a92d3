"""The alarms of the SAM template: policy loads, on_error rate, function errors, and the actions'."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .functions import SERVICE
from .options import SesRulesOptions

MINUTE = Duration.minutes(1)


def _metric(options: SesRulesOptions, name: str, period: Duration = MINUTE) -> cloudwatch.Metric:
    """One of the handler's EMF metrics (namespace and `service` dimension as Powertools writes them)."""
    return cloudwatch.Metric(namespace=options.metrics_namespace, metric_name=name,
                             dimensions_map={"service": SERVICE}, statistic="Sum", period=period)


def _alarm(scope: Construct, construct_id: str, options: SesRulesOptions, description: str,
           metric: cloudwatch.IMetric, threshold: float = 1,
           comparison: cloudwatch.ComparisonOperator =
           cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(scope, construct_id, alarm_description=description, metric=metric,
                             threshold=threshold, evaluation_periods=1, comparison_operator=comparison,
                             treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
    if options.alarm_topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(options.alarm_topic))
        alarm.add_ok_action(cw_actions.SnsAction(options.alarm_topic))
    return alarm


def _errors_and_throttles(fn: lambda_.IFunction, extra: dict[str, cloudwatch.IMetric], label: str) -> cloudwatch.MathExpression:
    metrics = {**extra, "errors": fn.metric_errors(period=MINUTE, statistic="Sum"),
               "throttles": fn.metric_throttles(period=MINUTE, statistic="Sum")}
    return cloudwatch.MathExpression(expression=" + ".join(f"FILL({m}, 0)" for m in metrics),
                                     using_metrics=metrics, label=label, period=MINUTE)


def deciding_alarms(scope: Construct, options: SesRulesOptions, fn: lambda_.IFunction) -> None:
    five = Duration.minutes(5)
    loads = cloudwatch.MathExpression(
        expression="FILL(loadfailures, 0) + FILL(unavailable, 0)", period=MINUTE,
        label="policy load failures and invocations without a policy",
        using_metrics={"loadfailures": _metric(options, "PolicyLoadFailures"),
                       "unavailable": _metric(options, "PolicyUnavailable")})
    _alarm(scope, "PolicyLoadFailureAlarm", options,
           "A policy failed to load, or an invocation had no policy and answered ON_ERROR. "
           "Read the function's \"policy load failed\" log lines.", loads)
    rate = cloudwatch.MathExpression(
        expression="IF(invocations > 0, 100 * FILL(errors, 0) / invocations, 0)", period=five,
        label="on_error percentage",
        using_metrics={"errors": _metric(options, "EvaluationErrors", five),
                       "invocations": fn.metric_invocations(period=five, statistic="Sum")})
    _alarm(scope, "OnErrorRateAlarm", options,
           f"More than {options.on_error_rate_percent}% of invocations in 5 minutes answered on_error.",
           rate, threshold=options.on_error_rate_percent,
           comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD)
    _alarm(scope, "FunctionErrorAlarm", options,
           "The function raised, timed out or was throttled; what SES then does is undocumented.",
           _errors_and_throttles(fn, {}, "errors and throttles"))


def action_alarms(scope: Construct, options: SesRulesOptions, fn: lambda_.IFunction,
                  dead_letters: sqs.IQueue) -> None:
    _alarm(scope, "ActionsDeadLetterAlarm", options,
           "A queued message failed 5 times and is in the dead-letter queue; fix the cause, then redrive.",
           dead_letters.metric_approximate_number_of_messages_visible(
               period=Duration.minutes(5), statistic="Maximum"))
    _alarm(scope, "ActionsNotQueuedAlarm", options,
           "The deciding function could not queue a message's actions (ActionsNotQueued): they will not run.",
           _metric(options, "ActionsNotQueued"))
    _alarm(scope, "ActionsFailedAlarm", options,
           "An action failed (ActionsFailed) or the action function raised, timed out or was throttled.",
           _errors_and_throttles(fn, {"failed": _metric(options, "ActionsFailed")},
                                 "failed actions, errors and throttles"))
