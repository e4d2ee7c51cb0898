-- One row per audience a marketer defined in audiences/*.yml (var audiences, checked by the
-- strata CLI): its kind, owner, description, the definition in words, the dim_users columns its
-- export carries, the goal its outcome is measured by, whether it has a history, and the file
-- and line it is defined at. What `strata audiences list` and the exports read.

with

definitions as (
    {{ audience_definitions_sql(audience_definitions()) }}
),

final as (
    select
        cast(audience_name as {{ dbt.type_string() }}) as audience_name,
        cast(audience_kind as {{ dbt.type_string() }}) as audience_kind,
        cast(audience_owner as {{ dbt.type_string() }}) as audience_owner,
        cast(description as {{ dbt.type_string() }}) as description,
        cast(definition as {{ dbt.type_string() }}) as definition,
        cast(export_attributes as {{ dbt.type_string() }}) as export_attributes,
        cast(conversion_goal as {{ dbt.type_string() }}) as conversion_goal,
        cast(has_history as boolean) as has_history,
        cast(defined_at as {{ dbt.type_string() }}) as defined_at,
        cast(measured_from as date) as measured_from,
        cast(definition_order as integer) as definition_order,
        {{ dbt.concat(["'audience:'", 'audience_name']) }} as play_id
    from definitions
)

select * from final
