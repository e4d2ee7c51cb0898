-- The fitted BG/NBD and Gamma-Gamma models on Spark, which cannot run dbt Python models: the
-- strata CLI (strata run --target spark) builds int_buyers_summarised, fits the models with the
-- same code as the DuckDB Python model of this name (strata.predict.pipeline), and writes the
-- result as Parquet to env STRATA_PREDICTIONS_DIR, which this model reads. Without it (plain
-- dbt build), no model is fitted and each row says why (docs/predictions.md).


{%- set exchange = env_var('STRATA_PREDICTIONS_DIR', '') | trim %}

{% if exchange %}
    with

    fits as (
        select * from parquet.`{{ exchange | replace('`', '``') }}/fits`
    ),

    final as (
        select
            cast(purpose as string) as purpose,
            cast(cutoff_date as date) as cutoff_date,
            cast(model as string) as model,
            cast(r as double) as r,
            cast(alpha as double) as alpha,
            cast(a as double) as a,
            cast(b as double) as b,
            cast(s as double) as s,
            cast(beta as double) as beta,
            cast(p as double) as p,
            cast(q as double) as q,
            cast(v as double) as v,
            cast(log_likelihood as double) as log_likelihood,
            cast(holdout_mean_absolute_error as double) as holdout_mean_absolute_error,
            cast(holdout_predicted_purchase_days as double) as holdout_predicted_purchase_days,
            cast(holdout_actual_purchase_days as double) as holdout_actual_purchase_days,
            cast(is_chosen as boolean) as is_chosen,
            cast(choice as string) as choice,
            cast(customers_used as bigint) as customers_used,
            cast(repeat_buyers_used as bigint) as repeat_buyers_used,
            cast(time_unit as string) as time_unit,
            cast(is_converged as boolean) as is_converged,
            cast(message as string) as message,
            cast(iterations as bigint) as iterations,
            cast(settings as string) as settings
        from fits
    )

    select * from final
{% else %}
    with

    cutoffs as (
        select distinct
            purpose,
            cutoff_date
        from {{ ref('int_buyers_summarised') }}
    ),

    models as (
        select 'bgnbd' as model
        union all
        select 'pareto_nbd' as model
        union all
        select 'mbgnbd' as model
        union all
        select 'gamma_gamma' as model
    ),

    final as (
        select
            cutoffs.purpose,
            cutoffs.cutoff_date,
            models.model,
            cast(null as double) as r,
            cast(null as double) as alpha,
            cast(null as double) as a,
            cast(null as double) as b,
            cast(null as double) as s,
            cast(null as double) as beta,
            cast(null as double) as p,
            cast(null as double) as q,
            cast(null as double) as v,
            cast(null as double) as log_likelihood,
            cast(null as double) as holdout_mean_absolute_error,
            cast(null as double) as holdout_predicted_purchase_days,
            cast(null as double) as holdout_actual_purchase_days,
            case when models.model <> 'gamma_gamma' then false end as is_chosen,
            cast(null as string) as choice,
            cast(0 as bigint) as customers_used,
            cast(0 as bigint) as repeat_buyers_used,
            'day' as time_unit,
            false as is_converged,
            'not fitted: on Spark the models are fitted by the strata CLI'
            || ' (strata run --target spark, docs/predictions.md)' as message,
            cast(0 as bigint) as iterations,
            cast(null as string) as settings
        from cutoffs
        cross join models
    )

    select * from final
{% endif %}
